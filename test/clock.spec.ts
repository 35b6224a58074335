import { expect } from 'aegir/chai'
import { LATE_TIMER, LATE_TIMER_WAITS, scheduleOnTime } from '../src/clock.ts'
import type { Clock } from '../src/clock.ts'

/** A clock whose timers the test fires by hand, at whatever time it sets: late ones too. */
function handClock (): Clock & { time: number, timers: Array<{ delay: number, fire(): void }> } {
  const clock = {
    time: 0,
    timers: [] as Array<{ delay: number, fire(): void }>,
    now: () => clock.time,
    schedule: (delay: number, fire: () => void) => {
      clock.timers.push({ delay, fire })
      return () => {}
    }
  }
  return clock
}

describe('clock: scheduleOnTime', () => {
  it('fires a timer that is on time, and waits as long again for one that fired late (the node was behind), a few times at most', () => {
    const clock = handClock()
    let fired = 0
    scheduleOnTime(clock, 250, () => { fired++ })
    expect(clock.timers.map(t => t.delay)).to.deep.equal([250])
    // on time (within the tolerance): fires
    clock.time = 250 + LATE_TIMER
    clock.timers[0].fire()
    expect(fired).to.equal(1)

    const late = handClock()
    let lateFired = 0
    scheduleOnTime(late, 250, () => { lateFired++ })
    // 300 ms late: an answer may be waiting behind it; it waits 300 ms more instead
    late.time = 550
    late.timers[0].fire()
    expect(lateFired).to.equal(0)
    expect(late.timers.map(t => t.delay)).to.deep.equal([250, 300])
    // late every time: it fires after LATE_TIMER_WAITS waits all the same
    for (let i = 1; i <= LATE_TIMER_WAITS; i++) {
      late.time += late.timers[i].delay + 100
      late.timers[i].fire()
    }
    expect(lateFired).to.equal(1)
    expect(late.timers).to.have.length(LATE_TIMER_WAITS + 1)
  })
})
