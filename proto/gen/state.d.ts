import * as $protobuf from "protobufjs";

/** Namespace sluice. */
export namespace sluice {

    /** Namespace v1. */
    namespace v1 {

        /** Represents a StateService */
        class StateService extends $protobuf.rpc.Service {

            /**
             * Constructs a new StateService service.
             * @param rpcImpl RPC implementation
             * @param [requestDelimited=false] Whether requests are length-delimited
             * @param [responseDelimited=false] Whether responses are length-delimited
             */
            constructor(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean);

            /**
             * Creates new StateService service using the specified rpc implementation.
             * @param rpcImpl RPC implementation
             * @param [requestDelimited=false] Whether requests are length-delimited
             * @param [responseDelimited=false] Whether responses are length-delimited
             * @returns RPC service. Useful where requests and/or responses are streamed.
             */
            static create(rpcImpl: $protobuf.RPCImpl, requestDelimited?: boolean, responseDelimited?: boolean): StateService;

            /** Calls Stream. */
            stream: sluice.v1.StateService.Stream;
        }

        namespace StateService {

            /**
             * Callback as used by {@link sluice.v1.StateService#stream}.
             * @param error Error, if any
             * @param [response] StateUpdate
             */
            type StreamCallback = (error: (Error|null), response?: sluice.v1.StateUpdate) => void;

            /** Calls Stream. */
            type Stream = {
              (request: sluice.v1.IAgentMessage, callback: sluice.v1.StateService.StreamCallback): void;
              (request: sluice.v1.IAgentMessage): Promise<sluice.v1.StateUpdate>;
              readonly name: "Stream";
              readonly path: "/sluice.v1.StateService/Stream";
              readonly requestType: "AgentMessage";
              readonly responseType: "StateUpdate";
              readonly requestStream: true;
              readonly responseStream: true;
            };
        }

        /**
         * Properties of an AgentMessage.
         * @deprecated Use sluice.v1.AgentMessage.$Properties instead.
         */
        interface IAgentMessage extends sluice.v1.AgentMessage.$Properties {
        }

        /** Represents an AgentMessage. */
        class AgentMessage {

            /**
             * Constructs a new AgentMessage.
             * @param [properties] Properties to set
             */
            constructor(properties?: sluice.v1.AgentMessage.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** AgentMessage hello. */
            hello?: (sluice.v1.Hello.$Properties|null);

            /** AgentMessage ack. */
            ack?: (sluice.v1.Ack.$Properties|null);

            /** AgentMessage msg. */
            msg?: ("hello"|"ack");

            /**
             * Creates a new AgentMessage instance using the specified properties.
             * @param [properties] Properties to set
             * @returns AgentMessage instance
             */
            static create(properties: sluice.v1.AgentMessage.$Shape): sluice.v1.AgentMessage & sluice.v1.AgentMessage.$Shape;
            static create(properties?: sluice.v1.AgentMessage.$Properties): sluice.v1.AgentMessage;

            /**
             * Encodes the specified AgentMessage message. Does not implicitly {@link sluice.v1.AgentMessage.verify|verify} messages.
             * @param message AgentMessage message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: sluice.v1.AgentMessage.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified AgentMessage message, length delimited. Does not implicitly {@link sluice.v1.AgentMessage.verify|verify} messages.
             * @param message AgentMessage message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: sluice.v1.AgentMessage.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an AgentMessage message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {sluice.v1.AgentMessage & sluice.v1.AgentMessage.$Shape} AgentMessage
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): sluice.v1.AgentMessage & sluice.v1.AgentMessage.$Shape;

            /**
             * Decodes an AgentMessage message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {sluice.v1.AgentMessage & sluice.v1.AgentMessage.$Shape} AgentMessage
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): sluice.v1.AgentMessage & sluice.v1.AgentMessage.$Shape;

            /**
             * Verifies an AgentMessage message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates an AgentMessage message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns AgentMessage
             */
            static fromObject(object: { [k: string]: any }): sluice.v1.AgentMessage;

            /**
             * Creates a plain object from an AgentMessage message. Also converts values to other types if specified.
             * @param message AgentMessage
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: sluice.v1.AgentMessage, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this AgentMessage to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for AgentMessage
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace AgentMessage {

            /** Properties of an AgentMessage. */
            interface $Properties {

                /** AgentMessage hello */
                hello?: (sluice.v1.Hello.$Properties|null);

                /** AgentMessage ack */
                ack?: (sluice.v1.Ack.$Properties|null);

                /** AgentMessage msg */
                msg?: ("hello"|"ack");

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Narrowed shape of an AgentMessage. */
            type $Shape = {
              hello?: sluice.v1.Hello.$Shape|null;
              ack?: sluice.v1.Ack.$Shape|null;
              $unknowns?: Uint8Array[];
            } & (
              ({ msg?: undefined; hello?: null; ack?: null }|{ msg?: "hello"; hello: sluice.v1.Hello.$Shape; ack?: null }|{ msg?: "ack"; hello?: null; ack: sluice.v1.Ack.$Shape })
            );
        }

        /**
         * Properties of a Hello.
         * @deprecated Use sluice.v1.Hello.$Properties instead.
         */
        interface IHello extends sluice.v1.Hello.$Properties {
        }

        /** Represents a Hello. */
        class Hello {

            /**
             * Constructs a new Hello.
             * @param [properties] Properties to set
             */
            constructor(properties?: sluice.v1.Hello.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** Hello nodeName. */
            nodeName: string;

            /** Hello lastAppliedVersion. */
            lastAppliedVersion: number;

            /** Hello agentId. */
            agentId: string;

            /**
             * Creates a new Hello instance using the specified properties.
             * @param [properties] Properties to set
             * @returns Hello instance
             */
            static create(properties: sluice.v1.Hello.$Shape): sluice.v1.Hello & sluice.v1.Hello.$Shape;
            static create(properties?: sluice.v1.Hello.$Properties): sluice.v1.Hello;

            /**
             * Encodes the specified Hello message. Does not implicitly {@link sluice.v1.Hello.verify|verify} messages.
             * @param message Hello message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: sluice.v1.Hello.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified Hello message, length delimited. Does not implicitly {@link sluice.v1.Hello.verify|verify} messages.
             * @param message Hello message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: sluice.v1.Hello.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a Hello message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {sluice.v1.Hello & sluice.v1.Hello.$Shape} Hello
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): sluice.v1.Hello & sluice.v1.Hello.$Shape;

            /**
             * Decodes a Hello message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {sluice.v1.Hello & sluice.v1.Hello.$Shape} Hello
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): sluice.v1.Hello & sluice.v1.Hello.$Shape;

            /**
             * Verifies a Hello message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates a Hello message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns Hello
             */
            static fromObject(object: { [k: string]: any }): sluice.v1.Hello;

            /**
             * Creates a plain object from a Hello message. Also converts values to other types if specified.
             * @param message Hello
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: sluice.v1.Hello, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this Hello to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for Hello
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace Hello {

            /** Properties of a Hello. */
            interface $Properties {

                /** Hello nodeName */
                nodeName?: (string|null);

                /** Hello lastAppliedVersion */
                lastAppliedVersion?: (number|null);

                /** Hello agentId */
                agentId?: (string|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of a Hello. */
            type $Shape = sluice.v1.Hello.$Properties;
        }

        /**
         * Properties of an Ack.
         * @deprecated Use sluice.v1.Ack.$Properties instead.
         */
        interface IAck extends sluice.v1.Ack.$Properties {
        }

        /** Represents an Ack. */
        class Ack {

            /**
             * Constructs a new Ack.
             * @param [properties] Properties to set
             */
            constructor(properties?: sluice.v1.Ack.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** Ack version. */
            version: number;

            /** Ack nonce. */
            nonce: string;

            /** Ack ok. */
            ok: boolean;

            /** Ack error. */
            error: string;

            /**
             * Creates a new Ack instance using the specified properties.
             * @param [properties] Properties to set
             * @returns Ack instance
             */
            static create(properties: sluice.v1.Ack.$Shape): sluice.v1.Ack & sluice.v1.Ack.$Shape;
            static create(properties?: sluice.v1.Ack.$Properties): sluice.v1.Ack;

            /**
             * Encodes the specified Ack message. Does not implicitly {@link sluice.v1.Ack.verify|verify} messages.
             * @param message Ack message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: sluice.v1.Ack.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified Ack message, length delimited. Does not implicitly {@link sluice.v1.Ack.verify|verify} messages.
             * @param message Ack message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: sluice.v1.Ack.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an Ack message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {sluice.v1.Ack & sluice.v1.Ack.$Shape} Ack
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): sluice.v1.Ack & sluice.v1.Ack.$Shape;

            /**
             * Decodes an Ack message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {sluice.v1.Ack & sluice.v1.Ack.$Shape} Ack
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): sluice.v1.Ack & sluice.v1.Ack.$Shape;

            /**
             * Verifies an Ack message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates an Ack message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns Ack
             */
            static fromObject(object: { [k: string]: any }): sluice.v1.Ack;

            /**
             * Creates a plain object from an Ack message. Also converts values to other types if specified.
             * @param message Ack
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: sluice.v1.Ack, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this Ack to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for Ack
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace Ack {

            /** Properties of an Ack. */
            interface $Properties {

                /** Ack version */
                version?: (number|null);

                /** Ack nonce */
                nonce?: (string|null);

                /** Ack ok */
                ok?: (boolean|null);

                /** Ack error */
                error?: (string|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of an Ack. */
            type $Shape = sluice.v1.Ack.$Properties;
        }

        /**
         * Properties of a StateUpdate.
         * @deprecated Use sluice.v1.StateUpdate.$Properties instead.
         */
        interface IStateUpdate extends sluice.v1.StateUpdate.$Properties {
        }

        /** Represents a StateUpdate. */
        class StateUpdate {

            /**
             * Constructs a new StateUpdate.
             * @param [properties] Properties to set
             */
            constructor(properties?: sluice.v1.StateUpdate.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** StateUpdate version. */
            version: number;

            /** StateUpdate nonce. */
            nonce: string;

            /** StateUpdate snapshot. */
            snapshot: boolean;

            /** StateUpdate upserts. */
            upserts: sluice.v1.Service.$Properties[];

            /** StateUpdate removals. */
            removals: string[];

            /** StateUpdate serverId. */
            serverId: string;

            /** StateUpdate node. */
            node?: (sluice.v1.NodeState.$Properties|null);

            /**
             * Creates a new StateUpdate instance using the specified properties.
             * @param [properties] Properties to set
             * @returns StateUpdate instance
             */
            static create(properties: sluice.v1.StateUpdate.$Shape): sluice.v1.StateUpdate & sluice.v1.StateUpdate.$Shape;
            static create(properties?: sluice.v1.StateUpdate.$Properties): sluice.v1.StateUpdate;

            /**
             * Encodes the specified StateUpdate message. Does not implicitly {@link sluice.v1.StateUpdate.verify|verify} messages.
             * @param message StateUpdate message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: sluice.v1.StateUpdate.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified StateUpdate message, length delimited. Does not implicitly {@link sluice.v1.StateUpdate.verify|verify} messages.
             * @param message StateUpdate message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: sluice.v1.StateUpdate.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a StateUpdate message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {sluice.v1.StateUpdate & sluice.v1.StateUpdate.$Shape} StateUpdate
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): sluice.v1.StateUpdate & sluice.v1.StateUpdate.$Shape;

            /**
             * Decodes a StateUpdate message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {sluice.v1.StateUpdate & sluice.v1.StateUpdate.$Shape} StateUpdate
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): sluice.v1.StateUpdate & sluice.v1.StateUpdate.$Shape;

            /**
             * Verifies a StateUpdate message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates a StateUpdate message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns StateUpdate
             */
            static fromObject(object: { [k: string]: any }): sluice.v1.StateUpdate;

            /**
             * Creates a plain object from a StateUpdate message. Also converts values to other types if specified.
             * @param message StateUpdate
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: sluice.v1.StateUpdate, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this StateUpdate to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for StateUpdate
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace StateUpdate {

            /** Properties of a StateUpdate. */
            interface $Properties {

                /** StateUpdate version */
                version?: (number|null);

                /** StateUpdate nonce */
                nonce?: (string|null);

                /** StateUpdate snapshot */
                snapshot?: (boolean|null);

                /** StateUpdate upserts */
                upserts?: (sluice.v1.Service.$Properties[]|null);

                /** StateUpdate removals */
                removals?: (string[]|null);

                /** StateUpdate serverId */
                serverId?: (string|null);

                /** StateUpdate node */
                node?: (sluice.v1.NodeState.$Properties|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of a StateUpdate. */
            type $Shape = sluice.v1.StateUpdate.$Properties;
        }

        /**
         * Properties of a NodeState.
         * @deprecated Use sluice.v1.NodeState.$Properties instead.
         */
        interface INodeState extends sluice.v1.NodeState.$Properties {
        }

        /** Represents a NodeState. */
        class NodeState {

            /**
             * Constructs a new NodeState.
             * @param [properties] Properties to set
             */
            constructor(properties?: sluice.v1.NodeState.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** NodeState known. */
            known: boolean;

            /** NodeState deleting. */
            deleting: boolean;

            /** NodeState reason. */
            reason: string;

            /**
             * Creates a new NodeState instance using the specified properties.
             * @param [properties] Properties to set
             * @returns NodeState instance
             */
            static create(properties: sluice.v1.NodeState.$Shape): sluice.v1.NodeState & sluice.v1.NodeState.$Shape;
            static create(properties?: sluice.v1.NodeState.$Properties): sluice.v1.NodeState;

            /**
             * Encodes the specified NodeState message. Does not implicitly {@link sluice.v1.NodeState.verify|verify} messages.
             * @param message NodeState message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: sluice.v1.NodeState.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified NodeState message, length delimited. Does not implicitly {@link sluice.v1.NodeState.verify|verify} messages.
             * @param message NodeState message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: sluice.v1.NodeState.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a NodeState message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {sluice.v1.NodeState & sluice.v1.NodeState.$Shape} NodeState
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): sluice.v1.NodeState & sluice.v1.NodeState.$Shape;

            /**
             * Decodes a NodeState message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {sluice.v1.NodeState & sluice.v1.NodeState.$Shape} NodeState
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): sluice.v1.NodeState & sluice.v1.NodeState.$Shape;

            /**
             * Verifies a NodeState message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates a NodeState message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns NodeState
             */
            static fromObject(object: { [k: string]: any }): sluice.v1.NodeState;

            /**
             * Creates a plain object from a NodeState message. Also converts values to other types if specified.
             * @param message NodeState
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: sluice.v1.NodeState, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this NodeState to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for NodeState
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace NodeState {

            /** Properties of a NodeState. */
            interface $Properties {

                /** NodeState known */
                known?: (boolean|null);

                /** NodeState deleting */
                deleting?: (boolean|null);

                /** NodeState reason */
                reason?: (string|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of a NodeState. */
            type $Shape = sluice.v1.NodeState.$Properties;
        }

        /** IPFamily enum. */
        enum IPFamily {

            /** IP_FAMILY_UNSPECIFIED value */
            IP_FAMILY_UNSPECIFIED = 0,

            /** IPV4 value */
            IPV4 = 4,

            /** IPV6 value */
            IPV6 = 6
        }

        /**
         * Properties of a Service.
         * @deprecated Use sluice.v1.Service.$Properties instead.
         */
        interface IService extends sluice.v1.Service.$Properties {
        }

        /** Represents a Service. */
        class Service {

            /**
             * Constructs a new Service.
             * @param [properties] Properties to set
             */
            constructor(properties?: sluice.v1.Service.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** Service namespace. */
            namespace: string;

            /** Service name. */
            name: string;

            /** Service type. */
            type: string;

            /** Service clusterIps. */
            clusterIps: string[];

            /** Service ports. */
            ports: sluice.v1.ServicePort.$Properties[];

            /** Service affinityClientIp. */
            affinityClientIp: boolean;

            /** Service affinityTimeoutSeconds. */
            affinityTimeoutSeconds: number;

            /** Service internalTrafficLocal. */
            internalTrafficLocal: boolean;

            /** Service externalTrafficLocal. */
            externalTrafficLocal: boolean;

            /** Service externalIps. */
            externalIps: string[];

            /** Service loadBalancerIps. */
            loadBalancerIps: string[];

            /** Service loadBalancerSourceRanges. */
            loadBalancerSourceRanges: string[];

            /** Service healthCheckNodePort. */
            healthCheckNodePort: number;

            /** Service lastChangeTriggerTime. */
            lastChangeTriggerTime: string;

            /** Service ipFamilies. */
            ipFamilies: sluice.v1.IPFamily[];

            /** Service ipFamilyPolicy. */
            ipFamilyPolicy: string;

            /**
             * Creates a new Service instance using the specified properties.
             * @param [properties] Properties to set
             * @returns Service instance
             */
            static create(properties: sluice.v1.Service.$Shape): sluice.v1.Service & sluice.v1.Service.$Shape;
            static create(properties?: sluice.v1.Service.$Properties): sluice.v1.Service;

            /**
             * Encodes the specified Service message. Does not implicitly {@link sluice.v1.Service.verify|verify} messages.
             * @param message Service message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: sluice.v1.Service.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified Service message, length delimited. Does not implicitly {@link sluice.v1.Service.verify|verify} messages.
             * @param message Service message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: sluice.v1.Service.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a Service message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {sluice.v1.Service & sluice.v1.Service.$Shape} Service
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): sluice.v1.Service & sluice.v1.Service.$Shape;

            /**
             * Decodes a Service message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {sluice.v1.Service & sluice.v1.Service.$Shape} Service
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): sluice.v1.Service & sluice.v1.Service.$Shape;

            /**
             * Verifies a Service message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates a Service message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns Service
             */
            static fromObject(object: { [k: string]: any }): sluice.v1.Service;

            /**
             * Creates a plain object from a Service message. Also converts values to other types if specified.
             * @param message Service
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: sluice.v1.Service, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this Service to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for Service
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace Service {

            /** Properties of a Service. */
            interface $Properties {

                /** Service namespace */
                namespace?: (string|null);

                /** Service name */
                name?: (string|null);

                /** Service type */
                type?: (string|null);

                /** Service clusterIps */
                clusterIps?: (string[]|null);

                /** Service ports */
                ports?: (sluice.v1.ServicePort.$Properties[]|null);

                /** Service affinityClientIp */
                affinityClientIp?: (boolean|null);

                /** Service affinityTimeoutSeconds */
                affinityTimeoutSeconds?: (number|null);

                /** Service internalTrafficLocal */
                internalTrafficLocal?: (boolean|null);

                /** Service externalTrafficLocal */
                externalTrafficLocal?: (boolean|null);

                /** Service externalIps */
                externalIps?: (string[]|null);

                /** Service loadBalancerIps */
                loadBalancerIps?: (string[]|null);

                /** Service loadBalancerSourceRanges */
                loadBalancerSourceRanges?: (string[]|null);

                /** Service healthCheckNodePort */
                healthCheckNodePort?: (number|null);

                /** Service lastChangeTriggerTime */
                lastChangeTriggerTime?: (string|null);

                /** Service ipFamilies */
                ipFamilies?: (sluice.v1.IPFamily[]|null);

                /** Service ipFamilyPolicy */
                ipFamilyPolicy?: (string|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of a Service. */
            type $Shape = sluice.v1.Service.$Properties;
        }

        /**
         * Properties of a ServicePort.
         * @deprecated Use sluice.v1.ServicePort.$Properties instead.
         */
        interface IServicePort extends sluice.v1.ServicePort.$Properties {
        }

        /** Represents a ServicePort. */
        class ServicePort {

            /**
             * Constructs a new ServicePort.
             * @param [properties] Properties to set
             */
            constructor(properties?: sluice.v1.ServicePort.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** ServicePort name. */
            name: string;

            /** ServicePort protocol. */
            protocol: string;

            /** ServicePort port. */
            port: number;

            /** ServicePort nodePort. */
            nodePort: number;

            /** ServicePort endpoints. */
            endpoints: sluice.v1.Endpoint.$Properties[];

            /**
             * Creates a new ServicePort instance using the specified properties.
             * @param [properties] Properties to set
             * @returns ServicePort instance
             */
            static create(properties: sluice.v1.ServicePort.$Shape): sluice.v1.ServicePort & sluice.v1.ServicePort.$Shape;
            static create(properties?: sluice.v1.ServicePort.$Properties): sluice.v1.ServicePort;

            /**
             * Encodes the specified ServicePort message. Does not implicitly {@link sluice.v1.ServicePort.verify|verify} messages.
             * @param message ServicePort message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: sluice.v1.ServicePort.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified ServicePort message, length delimited. Does not implicitly {@link sluice.v1.ServicePort.verify|verify} messages.
             * @param message ServicePort message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: sluice.v1.ServicePort.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes a ServicePort message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {sluice.v1.ServicePort & sluice.v1.ServicePort.$Shape} ServicePort
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): sluice.v1.ServicePort & sluice.v1.ServicePort.$Shape;

            /**
             * Decodes a ServicePort message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {sluice.v1.ServicePort & sluice.v1.ServicePort.$Shape} ServicePort
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): sluice.v1.ServicePort & sluice.v1.ServicePort.$Shape;

            /**
             * Verifies a ServicePort message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates a ServicePort message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns ServicePort
             */
            static fromObject(object: { [k: string]: any }): sluice.v1.ServicePort;

            /**
             * Creates a plain object from a ServicePort message. Also converts values to other types if specified.
             * @param message ServicePort
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: sluice.v1.ServicePort, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this ServicePort to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for ServicePort
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace ServicePort {

            /** Properties of a ServicePort. */
            interface $Properties {

                /** ServicePort name */
                name?: (string|null);

                /** ServicePort protocol */
                protocol?: (string|null);

                /** ServicePort port */
                port?: (number|null);

                /** ServicePort nodePort */
                nodePort?: (number|null);

                /** ServicePort endpoints */
                endpoints?: (sluice.v1.Endpoint.$Properties[]|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of a ServicePort. */
            type $Shape = sluice.v1.ServicePort.$Properties;
        }

        /**
         * Properties of an Endpoint.
         * @deprecated Use sluice.v1.Endpoint.$Properties instead.
         */
        interface IEndpoint extends sluice.v1.Endpoint.$Properties {
        }

        /** Represents an Endpoint. */
        class Endpoint {

            /**
             * Constructs a new Endpoint.
             * @param [properties] Properties to set
             */
            constructor(properties?: sluice.v1.Endpoint.$Properties);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];

            /** Endpoint ip. */
            ip: string;

            /** Endpoint port. */
            port: number;

            /** Endpoint ready. */
            ready: boolean;

            /** Endpoint serving. */
            serving: boolean;

            /** Endpoint terminating. */
            terminating: boolean;

            /** Endpoint nodeName. */
            nodeName: string;

            /** Endpoint targetRef. */
            targetRef: string;

            /** Endpoint internal. */
            internal: boolean;

            /** Endpoint external. */
            external: boolean;

            /** Endpoint cluster. */
            cluster: boolean;

            /** Endpoint family. */
            family: sluice.v1.IPFamily;

            /**
             * Creates a new Endpoint instance using the specified properties.
             * @param [properties] Properties to set
             * @returns Endpoint instance
             */
            static create(properties: sluice.v1.Endpoint.$Shape): sluice.v1.Endpoint & sluice.v1.Endpoint.$Shape;
            static create(properties?: sluice.v1.Endpoint.$Properties): sluice.v1.Endpoint;

            /**
             * Encodes the specified Endpoint message. Does not implicitly {@link sluice.v1.Endpoint.verify|verify} messages.
             * @param message Endpoint message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encode(message: sluice.v1.Endpoint.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Encodes the specified Endpoint message, length delimited. Does not implicitly {@link sluice.v1.Endpoint.verify|verify} messages.
             * @param message Endpoint message or plain object to encode
             * @param [writer] Writer to encode to
             * @returns Writer
             */
            static encodeDelimited(message: sluice.v1.Endpoint.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

            /**
             * Decodes an Endpoint message from the specified reader or buffer.
             * @param reader Reader or buffer to decode from
             * @param [length] Message length if known beforehand
             * @returns {sluice.v1.Endpoint & sluice.v1.Endpoint.$Shape} Endpoint
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decode(reader: ($protobuf.Reader|Uint8Array), length?: number): sluice.v1.Endpoint & sluice.v1.Endpoint.$Shape;

            /**
             * Decodes an Endpoint message from the specified reader or buffer, length delimited.
             * @param reader Reader or buffer to decode from
             * @returns {sluice.v1.Endpoint & sluice.v1.Endpoint.$Shape} Endpoint
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): sluice.v1.Endpoint & sluice.v1.Endpoint.$Shape;

            /**
             * Verifies an Endpoint message.
             * @param message Plain object to verify
             * @returns `null` if valid, otherwise the reason why it is not
             */
            static verify(message: { [k: string]: any }): (string|null);

            /**
             * Creates an Endpoint message from a plain object. Also converts values to their respective internal types.
             * @param object Plain object
             * @returns Endpoint
             */
            static fromObject(object: { [k: string]: any }): sluice.v1.Endpoint;

            /**
             * Creates a plain object from an Endpoint message. Also converts values to other types if specified.
             * @param message Endpoint
             * @param [options] Conversion options
             * @returns Plain object
             */
            static toObject(message: sluice.v1.Endpoint, options?: $protobuf.IConversionOptions): { [k: string]: any };

            /**
             * Converts this Endpoint to JSON.
             * @returns JSON object
             */
            toJSON(): { [k: string]: any };

            /**
             * Gets the type url for Endpoint
             * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns The type url
             */
            static getTypeUrl(prefix?: string): string;
        }

        namespace Endpoint {

            /** Properties of an Endpoint. */
            interface $Properties {

                /** Endpoint ip */
                ip?: (string|null);

                /** Endpoint port */
                port?: (number|null);

                /** Endpoint ready */
                ready?: (boolean|null);

                /** Endpoint serving */
                serving?: (boolean|null);

                /** Endpoint terminating */
                terminating?: (boolean|null);

                /** Endpoint nodeName */
                nodeName?: (string|null);

                /** Endpoint targetRef */
                targetRef?: (string|null);

                /** Endpoint internal */
                internal?: (boolean|null);

                /** Endpoint external */
                external?: (boolean|null);

                /** Endpoint cluster */
                cluster?: (boolean|null);

                /** Endpoint family */
                family?: (sluice.v1.IPFamily|null);

                /** Unknown fields preserved while decoding when enabled */
                $unknowns?: Uint8Array[];
            }

            /** Shape of an Endpoint. */
            type $Shape = sluice.v1.Endpoint.$Properties;
        }
    }
}
