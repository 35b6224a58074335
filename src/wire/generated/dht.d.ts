import * as $protobuf from "protobufjs";
import Long = require("long");

/** Namespace kadmium. */
export namespace kadmium {

    /**
     * Properties of a Record.
     * @deprecated Use kadmium.Record.$Properties instead.
     */
    interface IRecord extends kadmium.Record.$Properties {
    }

    /** Represents a Record. */
    class Record {

        /**
         * Constructs a new Record.
         * @param [properties] Properties to set
         */
        constructor(properties?: kadmium.Record.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** Record key. */
        key: Uint8Array;

        /** Record value. */
        value: Uint8Array;

        /** Record timeReceived. */
        timeReceived: string;

        /**
         * Creates a new Record instance using the specified properties.
         * @param [properties] Properties to set
         * @returns Record instance
         */
        static create(properties: kadmium.Record.$Shape): kadmium.Record & kadmium.Record.$Shape;
        static create(properties?: kadmium.Record.$Properties): kadmium.Record;

        /**
         * Encodes the specified Record message. Does not implicitly {@link kadmium.Record.verify|verify} messages.
         * @param message Record message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: kadmium.Record.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a Record message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {kadmium.Record & kadmium.Record.$Shape} Record
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): kadmium.Record & kadmium.Record.$Shape;

        /**
         * Gets the type url for Record
         * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns The type url
         */
        static getTypeUrl(prefix?: string): string;
    }

    namespace Record {

        /** Properties of a Record. */
        interface $Properties {

            /** Record key */
            key?: (Uint8Array|null);

            /** Record value */
            value?: (Uint8Array|null);

            /** Record timeReceived */
            timeReceived?: (string|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a Record. */
        type $Shape = kadmium.Record.$Properties;
    }

    /**
     * Properties of a Message.
     * @deprecated Use kadmium.Message.$Properties instead.
     */
    interface IMessage extends kadmium.Message.$Properties {
    }

    /** Represents a Message. */
    class Message {

        /**
         * Constructs a new Message.
         * @param [properties] Properties to set
         */
        constructor(properties?: kadmium.Message.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** Message type. */
        type: kadmium.Message.MessageType;

        /** Message clusterLevelRaw. */
        clusterLevelRaw: number;

        /** Message key. */
        key: Uint8Array;

        /** Message record. */
        record?: (kadmium.Record.$Properties|null);

        /** Message closerPeers. */
        closerPeers: kadmium.Message.Peer.$Properties[];

        /** Message providerPeers. */
        providerPeers: kadmium.Message.Peer.$Properties[];

        /**
         * Creates a new Message instance using the specified properties.
         * @param [properties] Properties to set
         * @returns Message instance
         */
        static create(properties: kadmium.Message.$Shape): kadmium.Message & kadmium.Message.$Shape;
        static create(properties?: kadmium.Message.$Properties): kadmium.Message;

        /**
         * Encodes the specified Message message. Does not implicitly {@link kadmium.Message.verify|verify} messages.
         * @param message Message message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encode(message: kadmium.Message.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a Message message from the specified reader or buffer.
         * @param reader Reader or buffer to decode from
         * @param [length] Message length if known beforehand
         * @returns {kadmium.Message & kadmium.Message.$Shape} Message
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): kadmium.Message & kadmium.Message.$Shape;

        /**
         * Gets the type url for Message
         * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns The type url
         */
        static getTypeUrl(prefix?: string): string;
    }

    namespace Message {

        /** Properties of a Message. */
        interface $Properties {

            /** Message type */
            type?: (kadmium.Message.MessageType|null);

            /** Message clusterLevelRaw */
            clusterLevelRaw?: (number|null);

            /** Message key */
            key?: (Uint8Array|null);

            /** Message record */
            record?: (kadmium.Record.$Properties|null);

            /** Message closerPeers */
            closerPeers?: (kadmium.Message.Peer.$Properties[]|null);

            /** Message providerPeers */
            providerPeers?: (kadmium.Message.Peer.$Properties[]|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a Message. */
        type $Shape = kadmium.Message.$Properties;

        /** MessageType enum. */
        enum MessageType {

            /** PUT_VALUE value */
            PUT_VALUE = 0,

            /** GET_VALUE value */
            GET_VALUE = 1,

            /** ADD_PROVIDER value */
            ADD_PROVIDER = 2,

            /** GET_PROVIDERS value */
            GET_PROVIDERS = 3,

            /** FIND_NODE value */
            FIND_NODE = 4,

            /** PING value */
            PING = 5
        }

        /** ConnectionType enum. */
        enum ConnectionType {

            /** NOT_CONNECTED value */
            NOT_CONNECTED = 0,

            /** CONNECTED value */
            CONNECTED = 1,

            /** CAN_CONNECT value */
            CAN_CONNECT = 2,

            /** CANNOT_CONNECT value */
            CANNOT_CONNECT = 3
        }

        /**
         * Properties of a Peer.
         * @deprecated Use kadmium.Message.Peer.$Properties instead.
         */
        interface IPeer extends kadmium.Message.Peer.$Properties {
        }

        /** Represents a Peer. */
        class Peer {

            /**
             * Constructs a new Peer.
             * @param [properties] Properties to set
             */
            constructor(properties?: kadmium.Message.Peer.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** Peer id. */
            id: Uint8Array;

            /** Peer addrs. */
            addrs: Uint8Array[];

            /** Peer connection. */
            connection: kadmium.Message.ConnectionType;

            /**
             * Creates a new Peer instance using the specified properties.
             * @param [properties] Properties to set
             * @returns Peer instance
             */
            static create(properties: kadmium.Message.Peer.$Shape): kadmium.Message.Peer & kadmium.Message.Peer.$Shape;
            static create(properties?: kadmium.Message.Peer.$Properties): kadmium.Message.Peer;

            /**
             * Encodes the specified Peer message. Does not implicitly {@link kadmium.Message.Peer.verify|verify} messages.
             * @param message Peer message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: kadmium.Message.Peer.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a Peer message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {kadmium.Message.Peer & kadmium.Message.Peer.$Shape} Peer
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): kadmium.Message.Peer & kadmium.Message.Peer.$Shape;

            /**
             * Gets the type url for Peer
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace Peer {

            /** Properties of a Peer. */
            interface $Properties {

                /** Peer id */
                id?: (Uint8Array|null);

                /** Peer addrs */
                addrs?: (Uint8Array[]|null);

                /** Peer connection */
                connection?: (kadmium.Message.ConnectionType|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of a Peer. */
            type $Shape = kadmium.Message.Peer.$Properties;
        }
    }
}
