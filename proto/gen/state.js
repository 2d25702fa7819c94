/*eslint-disable block-scoped-var, id-length, no-control-regex, no-magic-numbers, no-mixed-operators, no-prototype-builtins, no-redeclare, no-shadow, no-var, sort-vars, default-case, jsdoc/require-param*/
import $protobuf from "protobufjs/minimal.js";
// Added by proto/gen.sh: uint64 as plain numbers.
$protobuf.util.Long = undefined;
$protobuf.configure();

// Common aliases
const $Reader = $protobuf.Reader, $Writer = $protobuf.Writer, $util = $protobuf.util;
const $Object = $util.global.Object, $undefined = $util.global.undefined, $Error = $util.global.Error, $RangeError = $util.global.RangeError, $TypeError = $util.global.TypeError, $String = $util.global.String, $Number = $util.global.Number, $parseInt = $util.global.parseInt, $BigInt = $util.global.BigInt, $Boolean = $util.global.Boolean, $Array = $util.global.Array;

// Exported root namespace
const $root = $protobuf.roots["default"] || ($protobuf.roots["default"] = {});

export const sluice = $root.sluice = (() => {

    /**
     * Namespace sluice.
     * @exports sluice
     * @namespace
     */
    const sluice = {};

    sluice.v1 = (function() {

        /**
         * Namespace v1.
         * @memberof sluice
         * @namespace
         */
        const v1 = {};

        v1.StateService = (function() {

            /**
             * Constructs a new StateService service.
             * @memberof sluice.v1
             * @classdesc Represents a StateService
             * @extends $protobuf.rpc.Service
             * @constructor
             * @param {$protobuf.RPCImpl} rpcImpl RPC implementation
             * @param {boolean} [requestDelimited=false] Whether requests are length-delimited
             * @param {boolean} [responseDelimited=false] Whether responses are length-delimited
             */
            const StateService = function(rpcImpl, requestDelimited, responseDelimited) {
                $protobuf.rpc.Service.call(this, rpcImpl, requestDelimited, responseDelimited);
            };

            $Object.defineProperty(StateService.prototype = $Object.create($protobuf.rpc.Service.prototype), "constructor", { value: StateService, writable: true, enumerable: false, configurable: true });

            /**
             * Creates new StateService service using the specified rpc implementation.
             * @function create
             * @memberof sluice.v1.StateService
             * @static
             * @param {$protobuf.RPCImpl} rpcImpl RPC implementation
             * @param {boolean} [requestDelimited=false] Whether requests are length-delimited
             * @param {boolean} [responseDelimited=false] Whether responses are length-delimited
             * @returns {StateService} RPC service. Useful where requests and/or responses are streamed.
             */
            StateService.create = function(rpcImpl, requestDelimited, responseDelimited) {
                return new this(rpcImpl, requestDelimited, responseDelimited);
            };

            /**
             * Callback as used by {@link sluice.v1.StateService#stream}.
             * @memberof sluice.v1.StateService
             * @typedef StreamCallback
             * @type {function}
             * @param {Error|null} error Error, if any
             * @param {sluice.v1.StateUpdate} [response] StateUpdate
             */

            /**
             * Calls Stream.
             * @memberof sluice.v1.StateService
             * @typedef Stream
             * @type {{
             *   (request: sluice.v1.IAgentMessage, callback: sluice.v1.StateService.StreamCallback): void;
             *   (request: sluice.v1.IAgentMessage): Promise<sluice.v1.StateUpdate>;
             *   readonly name: "Stream";
             *   readonly path: "/sluice.v1.StateService/Stream";
             *   readonly requestType: "AgentMessage";
             *   readonly responseType: "StateUpdate";
             *   readonly requestStream: true;
             *   readonly responseStream: true;
             * }}
             */

            /**
             * Calls Stream.
             * @name sluice.v1.StateService#stream
             * @type {sluice.v1.StateService.Stream}
             */
            $Object.defineProperties(StateService.prototype.stream = function(request, callback) {
                return $protobuf.rpc.Service.prototype.rpcCall.call(this, StateService.prototype.stream, $root.sluice.v1.AgentMessage, $root.sluice.v1.StateUpdate, request, callback);
            }, {
                name: { value: "Stream" },
                path: { value: "/sluice.v1.StateService/Stream" },
                requestType: { value: "AgentMessage" },
                responseType: { value: "StateUpdate" },
                requestStream: { value: true },
                responseStream: { value: true }
            });

            return StateService;
        })();

        v1.AgentMessage = (function() {

            /**
             * Properties of an AgentMessage.
             * @typedef {Object} sluice.v1.AgentMessage.$Properties
             * @property {sluice.v1.Hello.$Properties|null} [hello] AgentMessage hello
             * @property {sluice.v1.Ack.$Properties|null} [ack] AgentMessage ack
             * @property {"hello"|"ack"} [msg] AgentMessage msg
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an AgentMessage.
             * @memberof sluice.v1
             * @interface IAgentMessage
             * @augments sluice.v1.AgentMessage.$Properties
             * @deprecated Use sluice.v1.AgentMessage.$Properties instead.
             */

            /**
             * Narrowed shape of an AgentMessage.
             * @typedef {{
             *   hello?: sluice.v1.Hello.$Shape|null;
             *   ack?: sluice.v1.Ack.$Shape|null;
             *   $unknowns?: Array.<Uint8Array>;
             * } & (
             *   ({ msg?: undefined; hello?: null; ack?: null }|{ msg?: "hello"; hello: sluice.v1.Hello.$Shape; ack?: null }|{ msg?: "ack"; hello?: null; ack: sluice.v1.Ack.$Shape })
             * )} sluice.v1.AgentMessage.$Shape
             */

            /**
             * Constructs a new AgentMessage.
             * @memberof sluice.v1
             * @classdesc Represents an AgentMessage.
             * @constructor
             * @param {sluice.v1.AgentMessage.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const AgentMessage = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * AgentMessage hello.
             * @member {sluice.v1.Hello.$Properties|null|undefined} hello
             * @memberof sluice.v1.AgentMessage
             * @instance
             */
            AgentMessage.prototype.hello = null;

            /**
             * AgentMessage ack.
             * @member {sluice.v1.Ack.$Properties|null|undefined} ack
             * @memberof sluice.v1.AgentMessage
             * @instance
             */
            AgentMessage.prototype.ack = null;

            // OneOf field names bound to virtual getters and setters
            let $oneOfFields;

            /**
             * AgentMessage msg.
             * @member {"hello"|"ack"|undefined} msg
             * @memberof sluice.v1.AgentMessage
             * @instance
             */
            $Object.defineProperty(AgentMessage.prototype, "msg", {
                get: $util.oneOfGetter($oneOfFields = ["hello", "ack"]),
                set: $util.oneOfSetter($oneOfFields)
            });

            /**
             * Creates a new AgentMessage instance using the specified properties.
             * @function create
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {sluice.v1.AgentMessage.$Properties=} [properties] Properties to set
             * @returns {sluice.v1.AgentMessage} AgentMessage instance
             * @type {{
             *   (properties: sluice.v1.AgentMessage.$Shape): sluice.v1.AgentMessage & sluice.v1.AgentMessage.$Shape;
             *   (properties?: sluice.v1.AgentMessage.$Properties): sluice.v1.AgentMessage;
             * }}
             */
            AgentMessage.create = function(properties) {
                return new AgentMessage(properties);
            };

            /**
             * Encodes the specified AgentMessage message. Does not implicitly {@link sluice.v1.AgentMessage.verify|verify} messages.
             * @function encode
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {sluice.v1.AgentMessage.$Properties} message AgentMessage message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            AgentMessage.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.hello != null && $Object.hasOwnProperty.call(message, "hello"))
                    $root.sluice.v1.Hello.encode(message.hello, writer.uint32(/* id 1, wireType 2 =*/10).fork(), _depth + 1).ldelim();
                if (message.ack != null && $Object.hasOwnProperty.call(message, "ack"))
                    $root.sluice.v1.Ack.encode(message.ack, writer.uint32(/* id 2, wireType 2 =*/18).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified AgentMessage message, length delimited. Does not implicitly {@link sluice.v1.AgentMessage.verify|verify} messages.
             * @function encodeDelimited
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {sluice.v1.AgentMessage.$Properties} message AgentMessage message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            AgentMessage.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes an AgentMessage message from the specified reader or buffer.
             * @function decode
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {sluice.v1.AgentMessage & sluice.v1.AgentMessage.$Shape} AgentMessage
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            AgentMessage.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.sluice.v1.AgentMessage();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            message.hello = $root.sluice.v1.Hello.decode(reader, reader.size(), $undefined, _depth + 1, message.hello);
                            message.msg = "hello";
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            message.ack = $root.sluice.v1.Ack.decode(reader, reader.size(), $undefined, _depth + 1, message.ack);
                            message.msg = "ack";
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes an AgentMessage message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {sluice.v1.AgentMessage & sluice.v1.AgentMessage.$Shape} AgentMessage
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            AgentMessage.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies an AgentMessage message.
             * @function verify
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            AgentMessage.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                let properties = {};
                if (message.hello != null && $Object.hasOwnProperty.call(message, "hello")) {
                    properties.msg = 1;
                    {
                        let error = $root.sluice.v1.Hello.verify(message.hello, _depth + 1);
                        if (error)
                            return "hello." + error;
                    }
                }
                if (message.ack != null && $Object.hasOwnProperty.call(message, "ack")) {
                    if (properties.msg === 1)
                        return "msg: multiple values";
                    properties.msg = 1;
                    {
                        let error = $root.sluice.v1.Ack.verify(message.ack, _depth + 1);
                        if (error)
                            return "ack." + error;
                    }
                }
                return null;
            };

            /**
             * Creates an AgentMessage message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {sluice.v1.AgentMessage} AgentMessage
             */
            AgentMessage.fromObject = function (object, _depth) {
                if (object instanceof $root.sluice.v1.AgentMessage)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".sluice.v1.AgentMessage: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.sluice.v1.AgentMessage();
                if (object.hello != null) {
                    if (!$util.isObject(object.hello))
                        throw $TypeError(".sluice.v1.AgentMessage.hello: object expected");
                    message.hello = $root.sluice.v1.Hello.fromObject(object.hello, _depth + 1);
                }
                if (object.ack != null) {
                    if (!$util.isObject(object.ack))
                        throw $TypeError(".sluice.v1.AgentMessage.ack: object expected");
                    message.ack = $root.sluice.v1.Ack.fromObject(object.ack, _depth + 1);
                }
                return message;
            };

            /**
             * Creates a plain object from an AgentMessage message. Also converts values to other types if specified.
             * @function toObject
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {sluice.v1.AgentMessage} message AgentMessage
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            AgentMessage.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (message.hello != null && $Object.hasOwnProperty.call(message, "hello")) {
                    object.hello = $root.sluice.v1.Hello.toObject(message.hello, options, _depth + 1);
                    if (options.oneofs)
                        object.msg = "hello";
                }
                if (message.ack != null && $Object.hasOwnProperty.call(message, "ack")) {
                    object.ack = $root.sluice.v1.Ack.toObject(message.ack, options, _depth + 1);
                    if (options.oneofs)
                        object.msg = "ack";
                }
                return object;
            };

            /**
             * Converts this AgentMessage to JSON.
             * @function toJSON
             * @memberof sluice.v1.AgentMessage
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            AgentMessage.prototype.toJSON = function() {
                return AgentMessage.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for AgentMessage
             * @function getTypeUrl
             * @memberof sluice.v1.AgentMessage
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            AgentMessage.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/sluice.v1.AgentMessage";
            };

            return AgentMessage;
        })();

        v1.Hello = (function() {

            /**
             * Properties of a Hello.
             * @typedef {Object} sluice.v1.Hello.$Properties
             * @property {string|null} [nodeName] Hello nodeName
             * @property {number|null} [lastAppliedVersion] Hello lastAppliedVersion
             * @property {string|null} [agentId] Hello agentId
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Hello.
             * @memberof sluice.v1
             * @interface IHello
             * @augments sluice.v1.Hello.$Properties
             * @deprecated Use sluice.v1.Hello.$Properties instead.
             */

            /**
             * Shape of a Hello.
             * @typedef {sluice.v1.Hello.$Properties} sluice.v1.Hello.$Shape
             */

            /**
             * Constructs a new Hello.
             * @memberof sluice.v1
             * @classdesc Represents a Hello.
             * @constructor
             * @param {sluice.v1.Hello.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Hello = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Hello nodeName.
             * @member {string} nodeName
             * @memberof sluice.v1.Hello
             * @instance
             */
            Hello.prototype.nodeName = "";

            /**
             * Hello lastAppliedVersion.
             * @member {number} lastAppliedVersion
             * @memberof sluice.v1.Hello
             * @instance
             */
            Hello.prototype.lastAppliedVersion = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * Hello agentId.
             * @member {string} agentId
             * @memberof sluice.v1.Hello
             * @instance
             */
            Hello.prototype.agentId = "";

            /**
             * Creates a new Hello instance using the specified properties.
             * @function create
             * @memberof sluice.v1.Hello
             * @static
             * @param {sluice.v1.Hello.$Properties=} [properties] Properties to set
             * @returns {sluice.v1.Hello} Hello instance
             * @type {{
             *   (properties: sluice.v1.Hello.$Shape): sluice.v1.Hello & sluice.v1.Hello.$Shape;
             *   (properties?: sluice.v1.Hello.$Properties): sluice.v1.Hello;
             * }}
             */
            Hello.create = function(properties) {
                return new Hello(properties);
            };

            /**
             * Encodes the specified Hello message. Does not implicitly {@link sluice.v1.Hello.verify|verify} messages.
             * @function encode
             * @memberof sluice.v1.Hello
             * @static
             * @param {sluice.v1.Hello.$Properties} message Hello message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Hello.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.nodeName != null && $Object.hasOwnProperty.call(message, "nodeName") && message.nodeName !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.nodeName);
                if (message.lastAppliedVersion != null && $Object.hasOwnProperty.call(message, "lastAppliedVersion") && (typeof message.lastAppliedVersion === "object" ? message.lastAppliedVersion.low || message.lastAppliedVersion.high : message.lastAppliedVersion !== 0))
                    writer.uint32(/* id 2, wireType 0 =*/16).uint64(message.lastAppliedVersion);
                if (message.agentId != null && $Object.hasOwnProperty.call(message, "agentId") && message.agentId !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.agentId);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified Hello message, length delimited. Does not implicitly {@link sluice.v1.Hello.verify|verify} messages.
             * @function encodeDelimited
             * @memberof sluice.v1.Hello
             * @static
             * @param {sluice.v1.Hello.$Properties} message Hello message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Hello.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes a Hello message from the specified reader or buffer.
             * @function decode
             * @memberof sluice.v1.Hello
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {sluice.v1.Hello & sluice.v1.Hello.$Shape} Hello
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Hello.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.sluice.v1.Hello();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.nodeName = value;
                            else
                                delete message.nodeName;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.lastAppliedVersion = value;
                            else
                                delete message.lastAppliedVersion;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.agentId = value;
                            else
                                delete message.agentId;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes a Hello message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof sluice.v1.Hello
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {sluice.v1.Hello & sluice.v1.Hello.$Shape} Hello
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Hello.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies a Hello message.
             * @function verify
             * @memberof sluice.v1.Hello
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            Hello.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.nodeName != null && $Object.hasOwnProperty.call(message, "nodeName"))
                    if (!$util.isString(message.nodeName))
                        return "nodeName: string expected";
                if (message.lastAppliedVersion != null && $Object.hasOwnProperty.call(message, "lastAppliedVersion"))
                    if (!$util.isInteger(message.lastAppliedVersion) && !(message.lastAppliedVersion && $util.isInteger(message.lastAppliedVersion.low) && $util.isInteger(message.lastAppliedVersion.high)))
                        return "lastAppliedVersion: integer|Long expected";
                if (message.agentId != null && $Object.hasOwnProperty.call(message, "agentId"))
                    if (!$util.isString(message.agentId))
                        return "agentId: string expected";
                return null;
            };

            /**
             * Creates a Hello message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof sluice.v1.Hello
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {sluice.v1.Hello} Hello
             */
            Hello.fromObject = function (object, _depth) {
                if (object instanceof $root.sluice.v1.Hello)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".sluice.v1.Hello: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.sluice.v1.Hello();
                if (object.nodeName != null)
                    if (typeof object.nodeName !== "string" || object.nodeName.length)
                        message.nodeName = $String(object.nodeName);
                if (object.lastAppliedVersion != null)
                    if (typeof object.lastAppliedVersion === "object" ? object.lastAppliedVersion.low || object.lastAppliedVersion.high : $Number(object.lastAppliedVersion) !== 0)
                        if ($util.Long)
                            message.lastAppliedVersion = $util.Long.fromValue(object.lastAppliedVersion, true);
                        else if (typeof object.lastAppliedVersion === "string")
                            message.lastAppliedVersion = $parseInt(object.lastAppliedVersion, 10);
                        else if (typeof object.lastAppliedVersion === "number")
                            message.lastAppliedVersion = object.lastAppliedVersion;
                        else if (typeof object.lastAppliedVersion === "object")
                            message.lastAppliedVersion = new $util.LongBits(object.lastAppliedVersion.low >>> 0, object.lastAppliedVersion.high >>> 0).toNumber(true);
                if (object.agentId != null)
                    if (typeof object.agentId !== "string" || object.agentId.length)
                        message.agentId = $String(object.agentId);
                return message;
            };

            /**
             * Creates a plain object from a Hello message. Also converts values to other types if specified.
             * @function toObject
             * @memberof sluice.v1.Hello
             * @static
             * @param {sluice.v1.Hello} message Hello
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            Hello.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    object.nodeName = "";
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.lastAppliedVersion = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.lastAppliedVersion = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.agentId = "";
                }
                if (message.nodeName != null && $Object.hasOwnProperty.call(message, "nodeName"))
                    object.nodeName = message.nodeName;
                if (message.lastAppliedVersion != null && $Object.hasOwnProperty.call(message, "lastAppliedVersion"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.lastAppliedVersion = typeof message.lastAppliedVersion === "number" ? $BigInt(message.lastAppliedVersion) : $util.Long.fromBits(message.lastAppliedVersion.low >>> 0, message.lastAppliedVersion.high >>> 0, true).toBigInt();
                    else if (typeof message.lastAppliedVersion === "number")
                        object.lastAppliedVersion = options.longs === $String ? $String(message.lastAppliedVersion) : message.lastAppliedVersion;
                    else
                        object.lastAppliedVersion = options.longs === $String ? $util.Long.prototype.toString.call(message.lastAppliedVersion) : options.longs === $Number ? new $util.LongBits(message.lastAppliedVersion.low >>> 0, message.lastAppliedVersion.high >>> 0).toNumber(true) : message.lastAppliedVersion;
                if (message.agentId != null && $Object.hasOwnProperty.call(message, "agentId"))
                    object.agentId = message.agentId;
                return object;
            };

            /**
             * Converts this Hello to JSON.
             * @function toJSON
             * @memberof sluice.v1.Hello
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            Hello.prototype.toJSON = function() {
                return Hello.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for Hello
             * @function getTypeUrl
             * @memberof sluice.v1.Hello
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Hello.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/sluice.v1.Hello";
            };

            return Hello;
        })();

        v1.Ack = (function() {

            /**
             * Properties of an Ack.
             * @typedef {Object} sluice.v1.Ack.$Properties
             * @property {number|null} [version] Ack version
             * @property {string|null} [nonce] Ack nonce
             * @property {boolean|null} [ok] Ack ok
             * @property {string|null} [error] Ack error
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Ack.
             * @memberof sluice.v1
             * @interface IAck
             * @augments sluice.v1.Ack.$Properties
             * @deprecated Use sluice.v1.Ack.$Properties instead.
             */

            /**
             * Shape of an Ack.
             * @typedef {sluice.v1.Ack.$Properties} sluice.v1.Ack.$Shape
             */

            /**
             * Constructs a new Ack.
             * @memberof sluice.v1
             * @classdesc Represents an Ack.
             * @constructor
             * @param {sluice.v1.Ack.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Ack = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Ack version.
             * @member {number} version
             * @memberof sluice.v1.Ack
             * @instance
             */
            Ack.prototype.version = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * Ack nonce.
             * @member {string} nonce
             * @memberof sluice.v1.Ack
             * @instance
             */
            Ack.prototype.nonce = "";

            /**
             * Ack ok.
             * @member {boolean} ok
             * @memberof sluice.v1.Ack
             * @instance
             */
            Ack.prototype.ok = false;

            /**
             * Ack error.
             * @member {string} error
             * @memberof sluice.v1.Ack
             * @instance
             */
            Ack.prototype.error = "";

            /**
             * Creates a new Ack instance using the specified properties.
             * @function create
             * @memberof sluice.v1.Ack
             * @static
             * @param {sluice.v1.Ack.$Properties=} [properties] Properties to set
             * @returns {sluice.v1.Ack} Ack instance
             * @type {{
             *   (properties: sluice.v1.Ack.$Shape): sluice.v1.Ack & sluice.v1.Ack.$Shape;
             *   (properties?: sluice.v1.Ack.$Properties): sluice.v1.Ack;
             * }}
             */
            Ack.create = function(properties) {
                return new Ack(properties);
            };

            /**
             * Encodes the specified Ack message. Does not implicitly {@link sluice.v1.Ack.verify|verify} messages.
             * @function encode
             * @memberof sluice.v1.Ack
             * @static
             * @param {sluice.v1.Ack.$Properties} message Ack message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Ack.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.version != null && $Object.hasOwnProperty.call(message, "version") && (typeof message.version === "object" ? message.version.low || message.version.high : message.version !== 0))
                    writer.uint32(/* id 1, wireType 0 =*/8).uint64(message.version);
                if (message.nonce != null && $Object.hasOwnProperty.call(message, "nonce") && message.nonce !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.nonce);
                if (message.ok != null && $Object.hasOwnProperty.call(message, "ok") && message.ok !== false)
                    writer.uint32(/* id 3, wireType 0 =*/24).bool(message.ok);
                if (message.error != null && $Object.hasOwnProperty.call(message, "error") && message.error !== "")
                    writer.uint32(/* id 4, wireType 2 =*/34).string(message.error);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified Ack message, length delimited. Does not implicitly {@link sluice.v1.Ack.verify|verify} messages.
             * @function encodeDelimited
             * @memberof sluice.v1.Ack
             * @static
             * @param {sluice.v1.Ack.$Properties} message Ack message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Ack.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes an Ack message from the specified reader or buffer.
             * @function decode
             * @memberof sluice.v1.Ack
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {sluice.v1.Ack & sluice.v1.Ack.$Shape} Ack
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Ack.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.sluice.v1.Ack();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.version = value;
                            else
                                delete message.version;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.nonce = value;
                            else
                                delete message.nonce;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.ok = value;
                            else
                                delete message.ok;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.error = value;
                            else
                                delete message.error;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes an Ack message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof sluice.v1.Ack
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {sluice.v1.Ack & sluice.v1.Ack.$Shape} Ack
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Ack.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies an Ack message.
             * @function verify
             * @memberof sluice.v1.Ack
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            Ack.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.version != null && $Object.hasOwnProperty.call(message, "version"))
                    if (!$util.isInteger(message.version) && !(message.version && $util.isInteger(message.version.low) && $util.isInteger(message.version.high)))
                        return "version: integer|Long expected";
                if (message.nonce != null && $Object.hasOwnProperty.call(message, "nonce"))
                    if (!$util.isString(message.nonce))
                        return "nonce: string expected";
                if (message.ok != null && $Object.hasOwnProperty.call(message, "ok"))
                    if (typeof message.ok !== "boolean")
                        return "ok: boolean expected";
                if (message.error != null && $Object.hasOwnProperty.call(message, "error"))
                    if (!$util.isString(message.error))
                        return "error: string expected";
                return null;
            };

            /**
             * Creates an Ack message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof sluice.v1.Ack
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {sluice.v1.Ack} Ack
             */
            Ack.fromObject = function (object, _depth) {
                if (object instanceof $root.sluice.v1.Ack)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".sluice.v1.Ack: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.sluice.v1.Ack();
                if (object.version != null)
                    if (typeof object.version === "object" ? object.version.low || object.version.high : $Number(object.version) !== 0)
                        if ($util.Long)
                            message.version = $util.Long.fromValue(object.version, true);
                        else if (typeof object.version === "string")
                            message.version = $parseInt(object.version, 10);
                        else if (typeof object.version === "number")
                            message.version = object.version;
                        else if (typeof object.version === "object")
                            message.version = new $util.LongBits(object.version.low >>> 0, object.version.high >>> 0).toNumber(true);
                if (object.nonce != null)
                    if (typeof object.nonce !== "string" || object.nonce.length)
                        message.nonce = $String(object.nonce);
                if (object.ok != null)
                    if (object.ok)
                        message.ok = $Boolean(object.ok);
                if (object.error != null)
                    if (typeof object.error !== "string" || object.error.length)
                        message.error = $String(object.error);
                return message;
            };

            /**
             * Creates a plain object from an Ack message. Also converts values to other types if specified.
             * @function toObject
             * @memberof sluice.v1.Ack
             * @static
             * @param {sluice.v1.Ack} message Ack
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            Ack.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.version = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.version = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.nonce = "";
                    object.ok = false;
                    object.error = "";
                }
                if (message.version != null && $Object.hasOwnProperty.call(message, "version"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.version = typeof message.version === "number" ? $BigInt(message.version) : $util.Long.fromBits(message.version.low >>> 0, message.version.high >>> 0, true).toBigInt();
                    else if (typeof message.version === "number")
                        object.version = options.longs === $String ? $String(message.version) : message.version;
                    else
                        object.version = options.longs === $String ? $util.Long.prototype.toString.call(message.version) : options.longs === $Number ? new $util.LongBits(message.version.low >>> 0, message.version.high >>> 0).toNumber(true) : message.version;
                if (message.nonce != null && $Object.hasOwnProperty.call(message, "nonce"))
                    object.nonce = message.nonce;
                if (message.ok != null && $Object.hasOwnProperty.call(message, "ok"))
                    object.ok = message.ok;
                if (message.error != null && $Object.hasOwnProperty.call(message, "error"))
                    object.error = message.error;
                return object;
            };

            /**
             * Converts this Ack to JSON.
             * @function toJSON
             * @memberof sluice.v1.Ack
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            Ack.prototype.toJSON = function() {
                return Ack.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for Ack
             * @function getTypeUrl
             * @memberof sluice.v1.Ack
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Ack.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/sluice.v1.Ack";
            };

            return Ack;
        })();

        v1.StateUpdate = (function() {

            /**
             * Properties of a StateUpdate.
             * @typedef {Object} sluice.v1.StateUpdate.$Properties
             * @property {number|null} [version] StateUpdate version
             * @property {string|null} [nonce] StateUpdate nonce
             * @property {boolean|null} [snapshot] StateUpdate snapshot
             * @property {Array.<sluice.v1.Service.$Properties>|null} [upserts] StateUpdate upserts
             * @property {Array.<string>|null} [removals] StateUpdate removals
             * @property {string|null} [serverId] StateUpdate serverId
             * @property {sluice.v1.NodeState.$Properties|null} [node] StateUpdate node
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a StateUpdate.
             * @memberof sluice.v1
             * @interface IStateUpdate
             * @augments sluice.v1.StateUpdate.$Properties
             * @deprecated Use sluice.v1.StateUpdate.$Properties instead.
             */

            /**
             * Shape of a StateUpdate.
             * @typedef {sluice.v1.StateUpdate.$Properties} sluice.v1.StateUpdate.$Shape
             */

            /**
             * Constructs a new StateUpdate.
             * @memberof sluice.v1
             * @classdesc Represents a StateUpdate.
             * @constructor
             * @param {sluice.v1.StateUpdate.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const StateUpdate = function (properties) {
                this.upserts = [];
                this.removals = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * StateUpdate version.
             * @member {number} version
             * @memberof sluice.v1.StateUpdate
             * @instance
             */
            StateUpdate.prototype.version = $util.Long ? $util.Long.fromBits(0,0,true) : 0;

            /**
             * StateUpdate nonce.
             * @member {string} nonce
             * @memberof sluice.v1.StateUpdate
             * @instance
             */
            StateUpdate.prototype.nonce = "";

            /**
             * StateUpdate snapshot.
             * @member {boolean} snapshot
             * @memberof sluice.v1.StateUpdate
             * @instance
             */
            StateUpdate.prototype.snapshot = false;

            /**
             * StateUpdate upserts.
             * @member {Array.<sluice.v1.Service.$Properties>} upserts
             * @memberof sluice.v1.StateUpdate
             * @instance
             */
            StateUpdate.prototype.upserts = $util.emptyArray;

            /**
             * StateUpdate removals.
             * @member {Array.<string>} removals
             * @memberof sluice.v1.StateUpdate
             * @instance
             */
            StateUpdate.prototype.removals = $util.emptyArray;

            /**
             * StateUpdate serverId.
             * @member {string} serverId
             * @memberof sluice.v1.StateUpdate
             * @instance
             */
            StateUpdate.prototype.serverId = "";

            /**
             * StateUpdate node.
             * @member {sluice.v1.NodeState.$Properties|null|undefined} node
             * @memberof sluice.v1.StateUpdate
             * @instance
             */
            StateUpdate.prototype.node = null;

            /**
             * Creates a new StateUpdate instance using the specified properties.
             * @function create
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {sluice.v1.StateUpdate.$Properties=} [properties] Properties to set
             * @returns {sluice.v1.StateUpdate} StateUpdate instance
             * @type {{
             *   (properties: sluice.v1.StateUpdate.$Shape): sluice.v1.StateUpdate & sluice.v1.StateUpdate.$Shape;
             *   (properties?: sluice.v1.StateUpdate.$Properties): sluice.v1.StateUpdate;
             * }}
             */
            StateUpdate.create = function(properties) {
                return new StateUpdate(properties);
            };

            /**
             * Encodes the specified StateUpdate message. Does not implicitly {@link sluice.v1.StateUpdate.verify|verify} messages.
             * @function encode
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {sluice.v1.StateUpdate.$Properties} message StateUpdate message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            StateUpdate.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.version != null && $Object.hasOwnProperty.call(message, "version") && (typeof message.version === "object" ? message.version.low || message.version.high : message.version !== 0))
                    writer.uint32(/* id 1, wireType 0 =*/8).uint64(message.version);
                if (message.nonce != null && $Object.hasOwnProperty.call(message, "nonce") && message.nonce !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.nonce);
                if (message.snapshot != null && $Object.hasOwnProperty.call(message, "snapshot") && message.snapshot !== false)
                    writer.uint32(/* id 3, wireType 0 =*/24).bool(message.snapshot);
                if (message.upserts != null && message.upserts.length)
                    for (let i = 0; i < message.upserts.length; ++i)
                        $root.sluice.v1.Service.encode(message.upserts[i], writer.uint32(/* id 4, wireType 2 =*/34).fork(), _depth + 1).ldelim();
                if (message.removals != null && message.removals.length)
                    for (let i = 0; i < message.removals.length; ++i)
                        writer.uint32(/* id 5, wireType 2 =*/42).string(message.removals[i]);
                if (message.serverId != null && $Object.hasOwnProperty.call(message, "serverId") && message.serverId !== "")
                    writer.uint32(/* id 6, wireType 2 =*/50).string(message.serverId);
                if (message.node != null && $Object.hasOwnProperty.call(message, "node"))
                    $root.sluice.v1.NodeState.encode(message.node, writer.uint32(/* id 7, wireType 2 =*/58).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified StateUpdate message, length delimited. Does not implicitly {@link sluice.v1.StateUpdate.verify|verify} messages.
             * @function encodeDelimited
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {sluice.v1.StateUpdate.$Properties} message StateUpdate message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            StateUpdate.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes a StateUpdate message from the specified reader or buffer.
             * @function decode
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {sluice.v1.StateUpdate & sluice.v1.StateUpdate.$Shape} StateUpdate
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            StateUpdate.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.sluice.v1.StateUpdate();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (typeof (value = reader.uint64()) === "object" ? value.low || value.high : value !== 0)
                                message.version = value;
                            else
                                delete message.version;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.nonce = value;
                            else
                                delete message.nonce;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.snapshot = value;
                            else
                                delete message.snapshot;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if (!(message.upserts && message.upserts.length))
                                message.upserts = [];
                            message.upserts.push($root.sluice.v1.Service.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            if (!(message.removals && message.removals.length))
                                message.removals = [];
                            message.removals.push(reader.stringVerify());
                            continue;
                        }
                    case 6: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.serverId = value;
                            else
                                delete message.serverId;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 2)
                                break;
                            message.node = $root.sluice.v1.NodeState.decode(reader, reader.size(), $undefined, _depth + 1, message.node);
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes a StateUpdate message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {sluice.v1.StateUpdate & sluice.v1.StateUpdate.$Shape} StateUpdate
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            StateUpdate.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies a StateUpdate message.
             * @function verify
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            StateUpdate.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.version != null && $Object.hasOwnProperty.call(message, "version"))
                    if (!$util.isInteger(message.version) && !(message.version && $util.isInteger(message.version.low) && $util.isInteger(message.version.high)))
                        return "version: integer|Long expected";
                if (message.nonce != null && $Object.hasOwnProperty.call(message, "nonce"))
                    if (!$util.isString(message.nonce))
                        return "nonce: string expected";
                if (message.snapshot != null && $Object.hasOwnProperty.call(message, "snapshot"))
                    if (typeof message.snapshot !== "boolean")
                        return "snapshot: boolean expected";
                if (message.upserts != null && $Object.hasOwnProperty.call(message, "upserts")) {
                    if (!$Array.isArray(message.upserts))
                        return "upserts: array expected";
                    for (let i = 0; i < message.upserts.length; ++i) {
                        let error = $root.sluice.v1.Service.verify(message.upserts[i], _depth + 1);
                        if (error)
                            return "upserts." + error;
                    }
                }
                if (message.removals != null && $Object.hasOwnProperty.call(message, "removals")) {
                    if (!$Array.isArray(message.removals))
                        return "removals: array expected";
                    for (let i = 0; i < message.removals.length; ++i)
                        if (!$util.isString(message.removals[i]))
                            return "removals: string[] expected";
                }
                if (message.serverId != null && $Object.hasOwnProperty.call(message, "serverId"))
                    if (!$util.isString(message.serverId))
                        return "serverId: string expected";
                if (message.node != null && $Object.hasOwnProperty.call(message, "node")) {
                    let error = $root.sluice.v1.NodeState.verify(message.node, _depth + 1);
                    if (error)
                        return "node." + error;
                }
                return null;
            };

            /**
             * Creates a StateUpdate message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {sluice.v1.StateUpdate} StateUpdate
             */
            StateUpdate.fromObject = function (object, _depth) {
                if (object instanceof $root.sluice.v1.StateUpdate)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".sluice.v1.StateUpdate: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.sluice.v1.StateUpdate();
                if (object.version != null)
                    if (typeof object.version === "object" ? object.version.low || object.version.high : $Number(object.version) !== 0)
                        if ($util.Long)
                            message.version = $util.Long.fromValue(object.version, true);
                        else if (typeof object.version === "string")
                            message.version = $parseInt(object.version, 10);
                        else if (typeof object.version === "number")
                            message.version = object.version;
                        else if (typeof object.version === "object")
                            message.version = new $util.LongBits(object.version.low >>> 0, object.version.high >>> 0).toNumber(true);
                if (object.nonce != null)
                    if (typeof object.nonce !== "string" || object.nonce.length)
                        message.nonce = $String(object.nonce);
                if (object.snapshot != null)
                    if (object.snapshot)
                        message.snapshot = $Boolean(object.snapshot);
                if (object.upserts) {
                    if (!$Array.isArray(object.upserts))
                        throw $TypeError(".sluice.v1.StateUpdate.upserts: array expected");
                    message.upserts = $Array(object.upserts.length);
                    for (let i = 0; i < object.upserts.length; ++i) {
                        if (!$util.isObject(object.upserts[i]))
                            throw $TypeError(".sluice.v1.StateUpdate.upserts: object expected");
                        message.upserts[i] = $root.sluice.v1.Service.fromObject(object.upserts[i], _depth + 1);
                    }
                }
                if (object.removals) {
                    if (!$Array.isArray(object.removals))
                        throw $TypeError(".sluice.v1.StateUpdate.removals: array expected");
                    message.removals = $Array(object.removals.length);
                    for (let i = 0; i < object.removals.length; ++i)
                        message.removals[i] = $String(object.removals[i]);
                }
                if (object.serverId != null)
                    if (typeof object.serverId !== "string" || object.serverId.length)
                        message.serverId = $String(object.serverId);
                if (object.node != null) {
                    if (!$util.isObject(object.node))
                        throw $TypeError(".sluice.v1.StateUpdate.node: object expected");
                    message.node = $root.sluice.v1.NodeState.fromObject(object.node, _depth + 1);
                }
                return message;
            };

            /**
             * Creates a plain object from a StateUpdate message. Also converts values to other types if specified.
             * @function toObject
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {sluice.v1.StateUpdate} message StateUpdate
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            StateUpdate.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.arrays || options.defaults) {
                    object.upserts = [];
                    object.removals = [];
                }
                if (options.defaults) {
                    if ($util.Long) {
                        let long = new $util.Long(0, 0, true);
                        object.version = options.longs === $String ? long.toString() : options.longs === $Number ? long.toNumber() : typeof $BigInt !== "undefined" && options.longs === $BigInt ? long.toBigInt() : long;
                    } else
                        object.version = options.longs === $String ? "0" : typeof $BigInt !== "undefined" && options.longs === $BigInt ? $BigInt("0") : 0;
                    object.nonce = "";
                    object.snapshot = false;
                    object.serverId = "";
                    object.node = null;
                }
                if (message.version != null && $Object.hasOwnProperty.call(message, "version"))
                    if (typeof $BigInt !== "undefined" && options.longs === $BigInt)
                        object.version = typeof message.version === "number" ? $BigInt(message.version) : $util.Long.fromBits(message.version.low >>> 0, message.version.high >>> 0, true).toBigInt();
                    else if (typeof message.version === "number")
                        object.version = options.longs === $String ? $String(message.version) : message.version;
                    else
                        object.version = options.longs === $String ? $util.Long.prototype.toString.call(message.version) : options.longs === $Number ? new $util.LongBits(message.version.low >>> 0, message.version.high >>> 0).toNumber(true) : message.version;
                if (message.nonce != null && $Object.hasOwnProperty.call(message, "nonce"))
                    object.nonce = message.nonce;
                if (message.snapshot != null && $Object.hasOwnProperty.call(message, "snapshot"))
                    object.snapshot = message.snapshot;
                if (message.upserts && message.upserts.length) {
                    object.upserts = $Array(message.upserts.length);
                    for (let j = 0; j < message.upserts.length; ++j)
                        object.upserts[j] = $root.sluice.v1.Service.toObject(message.upserts[j], options, _depth + 1);
                }
                if (message.removals && message.removals.length) {
                    object.removals = $Array(message.removals.length);
                    for (let j = 0; j < message.removals.length; ++j)
                        object.removals[j] = message.removals[j];
                }
                if (message.serverId != null && $Object.hasOwnProperty.call(message, "serverId"))
                    object.serverId = message.serverId;
                if (message.node != null && $Object.hasOwnProperty.call(message, "node"))
                    object.node = $root.sluice.v1.NodeState.toObject(message.node, options, _depth + 1);
                return object;
            };

            /**
             * Converts this StateUpdate to JSON.
             * @function toJSON
             * @memberof sluice.v1.StateUpdate
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            StateUpdate.prototype.toJSON = function() {
                return StateUpdate.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for StateUpdate
             * @function getTypeUrl
             * @memberof sluice.v1.StateUpdate
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            StateUpdate.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/sluice.v1.StateUpdate";
            };

            return StateUpdate;
        })();

        v1.NodeState = (function() {

            /**
             * Properties of a NodeState.
             * @typedef {Object} sluice.v1.NodeState.$Properties
             * @property {boolean|null} [known] NodeState known
             * @property {boolean|null} [deleting] NodeState deleting
             * @property {string|null} [reason] NodeState reason
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a NodeState.
             * @memberof sluice.v1
             * @interface INodeState
             * @augments sluice.v1.NodeState.$Properties
             * @deprecated Use sluice.v1.NodeState.$Properties instead.
             */

            /**
             * Shape of a NodeState.
             * @typedef {sluice.v1.NodeState.$Properties} sluice.v1.NodeState.$Shape
             */

            /**
             * Constructs a new NodeState.
             * @memberof sluice.v1
             * @classdesc Represents a NodeState.
             * @constructor
             * @param {sluice.v1.NodeState.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const NodeState = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * NodeState known.
             * @member {boolean} known
             * @memberof sluice.v1.NodeState
             * @instance
             */
            NodeState.prototype.known = false;

            /**
             * NodeState deleting.
             * @member {boolean} deleting
             * @memberof sluice.v1.NodeState
             * @instance
             */
            NodeState.prototype.deleting = false;

            /**
             * NodeState reason.
             * @member {string} reason
             * @memberof sluice.v1.NodeState
             * @instance
             */
            NodeState.prototype.reason = "";

            /**
             * Creates a new NodeState instance using the specified properties.
             * @function create
             * @memberof sluice.v1.NodeState
             * @static
             * @param {sluice.v1.NodeState.$Properties=} [properties] Properties to set
             * @returns {sluice.v1.NodeState} NodeState instance
             * @type {{
             *   (properties: sluice.v1.NodeState.$Shape): sluice.v1.NodeState & sluice.v1.NodeState.$Shape;
             *   (properties?: sluice.v1.NodeState.$Properties): sluice.v1.NodeState;
             * }}
             */
            NodeState.create = function(properties) {
                return new NodeState(properties);
            };

            /**
             * Encodes the specified NodeState message. Does not implicitly {@link sluice.v1.NodeState.verify|verify} messages.
             * @function encode
             * @memberof sluice.v1.NodeState
             * @static
             * @param {sluice.v1.NodeState.$Properties} message NodeState message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            NodeState.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.known != null && $Object.hasOwnProperty.call(message, "known") && message.known !== false)
                    writer.uint32(/* id 1, wireType 0 =*/8).bool(message.known);
                if (message.deleting != null && $Object.hasOwnProperty.call(message, "deleting") && message.deleting !== false)
                    writer.uint32(/* id 2, wireType 0 =*/16).bool(message.deleting);
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason") && message.reason !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.reason);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified NodeState message, length delimited. Does not implicitly {@link sluice.v1.NodeState.verify|verify} messages.
             * @function encodeDelimited
             * @memberof sluice.v1.NodeState
             * @static
             * @param {sluice.v1.NodeState.$Properties} message NodeState message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            NodeState.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes a NodeState message from the specified reader or buffer.
             * @function decode
             * @memberof sluice.v1.NodeState
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {sluice.v1.NodeState & sluice.v1.NodeState.$Shape} NodeState
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            NodeState.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.sluice.v1.NodeState();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.known = value;
                            else
                                delete message.known;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.deleting = value;
                            else
                                delete message.deleting;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.reason = value;
                            else
                                delete message.reason;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes a NodeState message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof sluice.v1.NodeState
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {sluice.v1.NodeState & sluice.v1.NodeState.$Shape} NodeState
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            NodeState.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies a NodeState message.
             * @function verify
             * @memberof sluice.v1.NodeState
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            NodeState.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.known != null && $Object.hasOwnProperty.call(message, "known"))
                    if (typeof message.known !== "boolean")
                        return "known: boolean expected";
                if (message.deleting != null && $Object.hasOwnProperty.call(message, "deleting"))
                    if (typeof message.deleting !== "boolean")
                        return "deleting: boolean expected";
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason"))
                    if (!$util.isString(message.reason))
                        return "reason: string expected";
                return null;
            };

            /**
             * Creates a NodeState message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof sluice.v1.NodeState
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {sluice.v1.NodeState} NodeState
             */
            NodeState.fromObject = function (object, _depth) {
                if (object instanceof $root.sluice.v1.NodeState)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".sluice.v1.NodeState: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.sluice.v1.NodeState();
                if (object.known != null)
                    if (object.known)
                        message.known = $Boolean(object.known);
                if (object.deleting != null)
                    if (object.deleting)
                        message.deleting = $Boolean(object.deleting);
                if (object.reason != null)
                    if (typeof object.reason !== "string" || object.reason.length)
                        message.reason = $String(object.reason);
                return message;
            };

            /**
             * Creates a plain object from a NodeState message. Also converts values to other types if specified.
             * @function toObject
             * @memberof sluice.v1.NodeState
             * @static
             * @param {sluice.v1.NodeState} message NodeState
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            NodeState.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    object.known = false;
                    object.deleting = false;
                    object.reason = "";
                }
                if (message.known != null && $Object.hasOwnProperty.call(message, "known"))
                    object.known = message.known;
                if (message.deleting != null && $Object.hasOwnProperty.call(message, "deleting"))
                    object.deleting = message.deleting;
                if (message.reason != null && $Object.hasOwnProperty.call(message, "reason"))
                    object.reason = message.reason;
                return object;
            };

            /**
             * Converts this NodeState to JSON.
             * @function toJSON
             * @memberof sluice.v1.NodeState
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            NodeState.prototype.toJSON = function() {
                return NodeState.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for NodeState
             * @function getTypeUrl
             * @memberof sluice.v1.NodeState
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            NodeState.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/sluice.v1.NodeState";
            };

            return NodeState;
        })();

        /**
         * IPFamily enum.
         * @name sluice.v1.IPFamily
         * @enum {number}
         * @property {number} IP_FAMILY_UNSPECIFIED=0 IP_FAMILY_UNSPECIFIED value
         * @property {number} IPV4=4 IPV4 value
         * @property {number} IPV6=6 IPV6 value
         */
        v1.IPFamily = (function() {
            const valuesById = $Object.create(null), values = $Object.create(valuesById);
            values[valuesById[0] = "IP_FAMILY_UNSPECIFIED"] = 0;
            values[valuesById[4] = "IPV4"] = 4;
            values[valuesById[6] = "IPV6"] = 6;
            return values;
        })();

        v1.Service = (function() {

            /**
             * Properties of a Service.
             * @typedef {Object} sluice.v1.Service.$Properties
             * @property {string|null} [namespace] Service namespace
             * @property {string|null} [name] Service name
             * @property {string|null} [type] Service type
             * @property {Array.<string>|null} [clusterIps] Service clusterIps
             * @property {Array.<sluice.v1.ServicePort.$Properties>|null} [ports] Service ports
             * @property {boolean|null} [affinityClientIp] Service affinityClientIp
             * @property {number|null} [affinityTimeoutSeconds] Service affinityTimeoutSeconds
             * @property {boolean|null} [internalTrafficLocal] Service internalTrafficLocal
             * @property {boolean|null} [externalTrafficLocal] Service externalTrafficLocal
             * @property {Array.<string>|null} [externalIps] Service externalIps
             * @property {Array.<string>|null} [loadBalancerIps] Service loadBalancerIps
             * @property {Array.<string>|null} [loadBalancerSourceRanges] Service loadBalancerSourceRanges
             * @property {number|null} [healthCheckNodePort] Service healthCheckNodePort
             * @property {string|null} [lastChangeTriggerTime] Service lastChangeTriggerTime
             * @property {Array.<sluice.v1.IPFamily>|null} [ipFamilies] Service ipFamilies
             * @property {string|null} [ipFamilyPolicy] Service ipFamilyPolicy
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a Service.
             * @memberof sluice.v1
             * @interface IService
             * @augments sluice.v1.Service.$Properties
             * @deprecated Use sluice.v1.Service.$Properties instead.
             */

            /**
             * Shape of a Service.
             * @typedef {sluice.v1.Service.$Properties} sluice.v1.Service.$Shape
             */

            /**
             * Constructs a new Service.
             * @memberof sluice.v1
             * @classdesc Represents a Service.
             * @constructor
             * @param {sluice.v1.Service.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Service = function (properties) {
                this.clusterIps = [];
                this.ports = [];
                this.externalIps = [];
                this.loadBalancerIps = [];
                this.loadBalancerSourceRanges = [];
                this.ipFamilies = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Service namespace.
             * @member {string} namespace
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.namespace = "";

            /**
             * Service name.
             * @member {string} name
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.name = "";

            /**
             * Service type.
             * @member {string} type
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.type = "";

            /**
             * Service clusterIps.
             * @member {Array.<string>} clusterIps
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.clusterIps = $util.emptyArray;

            /**
             * Service ports.
             * @member {Array.<sluice.v1.ServicePort.$Properties>} ports
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.ports = $util.emptyArray;

            /**
             * Service affinityClientIp.
             * @member {boolean} affinityClientIp
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.affinityClientIp = false;

            /**
             * Service affinityTimeoutSeconds.
             * @member {number} affinityTimeoutSeconds
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.affinityTimeoutSeconds = 0;

            /**
             * Service internalTrafficLocal.
             * @member {boolean} internalTrafficLocal
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.internalTrafficLocal = false;

            /**
             * Service externalTrafficLocal.
             * @member {boolean} externalTrafficLocal
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.externalTrafficLocal = false;

            /**
             * Service externalIps.
             * @member {Array.<string>} externalIps
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.externalIps = $util.emptyArray;

            /**
             * Service loadBalancerIps.
             * @member {Array.<string>} loadBalancerIps
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.loadBalancerIps = $util.emptyArray;

            /**
             * Service loadBalancerSourceRanges.
             * @member {Array.<string>} loadBalancerSourceRanges
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.loadBalancerSourceRanges = $util.emptyArray;

            /**
             * Service healthCheckNodePort.
             * @member {number} healthCheckNodePort
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.healthCheckNodePort = 0;

            /**
             * Service lastChangeTriggerTime.
             * @member {string} lastChangeTriggerTime
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.lastChangeTriggerTime = "";

            /**
             * Service ipFamilies.
             * @member {Array.<sluice.v1.IPFamily>} ipFamilies
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.ipFamilies = $util.emptyArray;

            /**
             * Service ipFamilyPolicy.
             * @member {string} ipFamilyPolicy
             * @memberof sluice.v1.Service
             * @instance
             */
            Service.prototype.ipFamilyPolicy = "";

            /**
             * Creates a new Service instance using the specified properties.
             * @function create
             * @memberof sluice.v1.Service
             * @static
             * @param {sluice.v1.Service.$Properties=} [properties] Properties to set
             * @returns {sluice.v1.Service} Service instance
             * @type {{
             *   (properties: sluice.v1.Service.$Shape): sluice.v1.Service & sluice.v1.Service.$Shape;
             *   (properties?: sluice.v1.Service.$Properties): sluice.v1.Service;
             * }}
             */
            Service.create = function(properties) {
                return new Service(properties);
            };

            /**
             * Encodes the specified Service message. Does not implicitly {@link sluice.v1.Service.verify|verify} messages.
             * @function encode
             * @memberof sluice.v1.Service
             * @static
             * @param {sluice.v1.Service.$Properties} message Service message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Service.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace") && message.namespace !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.namespace);
                if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.name);
                if (message.type != null && $Object.hasOwnProperty.call(message, "type") && message.type !== "")
                    writer.uint32(/* id 3, wireType 2 =*/26).string(message.type);
                if (message.clusterIps != null && message.clusterIps.length)
                    for (let i = 0; i < message.clusterIps.length; ++i)
                        writer.uint32(/* id 4, wireType 2 =*/34).string(message.clusterIps[i]);
                if (message.ports != null && message.ports.length)
                    for (let i = 0; i < message.ports.length; ++i)
                        $root.sluice.v1.ServicePort.encode(message.ports[i], writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
                if (message.affinityClientIp != null && $Object.hasOwnProperty.call(message, "affinityClientIp") && message.affinityClientIp !== false)
                    writer.uint32(/* id 6, wireType 0 =*/48).bool(message.affinityClientIp);
                if (message.affinityTimeoutSeconds != null && $Object.hasOwnProperty.call(message, "affinityTimeoutSeconds") && message.affinityTimeoutSeconds !== 0)
                    writer.uint32(/* id 7, wireType 0 =*/56).uint32(message.affinityTimeoutSeconds);
                if (message.internalTrafficLocal != null && $Object.hasOwnProperty.call(message, "internalTrafficLocal") && message.internalTrafficLocal !== false)
                    writer.uint32(/* id 8, wireType 0 =*/64).bool(message.internalTrafficLocal);
                if (message.externalTrafficLocal != null && $Object.hasOwnProperty.call(message, "externalTrafficLocal") && message.externalTrafficLocal !== false)
                    writer.uint32(/* id 9, wireType 0 =*/72).bool(message.externalTrafficLocal);
                if (message.externalIps != null && message.externalIps.length)
                    for (let i = 0; i < message.externalIps.length; ++i)
                        writer.uint32(/* id 10, wireType 2 =*/82).string(message.externalIps[i]);
                if (message.loadBalancerIps != null && message.loadBalancerIps.length)
                    for (let i = 0; i < message.loadBalancerIps.length; ++i)
                        writer.uint32(/* id 11, wireType 2 =*/90).string(message.loadBalancerIps[i]);
                if (message.loadBalancerSourceRanges != null && message.loadBalancerSourceRanges.length)
                    for (let i = 0; i < message.loadBalancerSourceRanges.length; ++i)
                        writer.uint32(/* id 12, wireType 2 =*/98).string(message.loadBalancerSourceRanges[i]);
                if (message.healthCheckNodePort != null && $Object.hasOwnProperty.call(message, "healthCheckNodePort") && message.healthCheckNodePort !== 0)
                    writer.uint32(/* id 13, wireType 0 =*/104).uint32(message.healthCheckNodePort);
                if (message.lastChangeTriggerTime != null && $Object.hasOwnProperty.call(message, "lastChangeTriggerTime") && message.lastChangeTriggerTime !== "")
                    writer.uint32(/* id 14, wireType 2 =*/114).string(message.lastChangeTriggerTime);
                if (message.ipFamilies != null && message.ipFamilies.length)
                    writer.uint32(/* id 15, wireType 2 =*/122).int32s(message.ipFamilies);
                if (message.ipFamilyPolicy != null && $Object.hasOwnProperty.call(message, "ipFamilyPolicy") && message.ipFamilyPolicy !== "")
                    writer.uint32(/* id 16, wireType 2 =*/130).string(message.ipFamilyPolicy);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified Service message, length delimited. Does not implicitly {@link sluice.v1.Service.verify|verify} messages.
             * @function encodeDelimited
             * @memberof sluice.v1.Service
             * @static
             * @param {sluice.v1.Service.$Properties} message Service message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Service.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes a Service message from the specified reader or buffer.
             * @function decode
             * @memberof sluice.v1.Service
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {sluice.v1.Service & sluice.v1.Service.$Shape} Service
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Service.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.sluice.v1.Service();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.namespace = value;
                            else
                                delete message.namespace;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.name = value;
                            else
                                delete message.name;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.type = value;
                            else
                                delete message.type;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 2)
                                break;
                            if (!(message.clusterIps && message.clusterIps.length))
                                message.clusterIps = [];
                            message.clusterIps.push(reader.stringVerify());
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            if (!(message.ports && message.ports.length))
                                message.ports = [];
                            message.ports.push($root.sluice.v1.ServicePort.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    case 6: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.affinityClientIp = value;
                            else
                                delete message.affinityClientIp;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.affinityTimeoutSeconds = value;
                            else
                                delete message.affinityTimeoutSeconds;
                            continue;
                        }
                    case 8: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.internalTrafficLocal = value;
                            else
                                delete message.internalTrafficLocal;
                            continue;
                        }
                    case 9: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.externalTrafficLocal = value;
                            else
                                delete message.externalTrafficLocal;
                            continue;
                        }
                    case 10: {
                            if (wireType !== 2)
                                break;
                            if (!(message.externalIps && message.externalIps.length))
                                message.externalIps = [];
                            message.externalIps.push(reader.stringVerify());
                            continue;
                        }
                    case 11: {
                            if (wireType !== 2)
                                break;
                            if (!(message.loadBalancerIps && message.loadBalancerIps.length))
                                message.loadBalancerIps = [];
                            message.loadBalancerIps.push(reader.stringVerify());
                            continue;
                        }
                    case 12: {
                            if (wireType !== 2)
                                break;
                            if (!(message.loadBalancerSourceRanges && message.loadBalancerSourceRanges.length))
                                message.loadBalancerSourceRanges = [];
                            message.loadBalancerSourceRanges.push(reader.stringVerify());
                            continue;
                        }
                    case 13: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.healthCheckNodePort = value;
                            else
                                delete message.healthCheckNodePort;
                            continue;
                        }
                    case 14: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.lastChangeTriggerTime = value;
                            else
                                delete message.lastChangeTriggerTime;
                            continue;
                        }
                    case 15: {
                            if (wireType === 2) {
                                if (!(message.ipFamilies && message.ipFamilies.length))
                                    message.ipFamilies = [];
                                reader.int32s(message.ipFamilies);
                                continue;
                            }
                            if (wireType !== 0)
                                break;
                            if (!(message.ipFamilies && message.ipFamilies.length))
                                message.ipFamilies = [];
                            message.ipFamilies.push(reader.int32());
                            continue;
                        }
                    case 16: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.ipFamilyPolicy = value;
                            else
                                delete message.ipFamilyPolicy;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes a Service message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof sluice.v1.Service
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {sluice.v1.Service & sluice.v1.Service.$Shape} Service
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Service.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies a Service message.
             * @function verify
             * @memberof sluice.v1.Service
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            Service.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace"))
                    if (!$util.isString(message.namespace))
                        return "namespace: string expected";
                if (message.name != null && $Object.hasOwnProperty.call(message, "name"))
                    if (!$util.isString(message.name))
                        return "name: string expected";
                if (message.type != null && $Object.hasOwnProperty.call(message, "type"))
                    if (!$util.isString(message.type))
                        return "type: string expected";
                if (message.clusterIps != null && $Object.hasOwnProperty.call(message, "clusterIps")) {
                    if (!$Array.isArray(message.clusterIps))
                        return "clusterIps: array expected";
                    for (let i = 0; i < message.clusterIps.length; ++i)
                        if (!$util.isString(message.clusterIps[i]))
                            return "clusterIps: string[] expected";
                }
                if (message.ports != null && $Object.hasOwnProperty.call(message, "ports")) {
                    if (!$Array.isArray(message.ports))
                        return "ports: array expected";
                    for (let i = 0; i < message.ports.length; ++i) {
                        let error = $root.sluice.v1.ServicePort.verify(message.ports[i], _depth + 1);
                        if (error)
                            return "ports." + error;
                    }
                }
                if (message.affinityClientIp != null && $Object.hasOwnProperty.call(message, "affinityClientIp"))
                    if (typeof message.affinityClientIp !== "boolean")
                        return "affinityClientIp: boolean expected";
                if (message.affinityTimeoutSeconds != null && $Object.hasOwnProperty.call(message, "affinityTimeoutSeconds"))
                    if (!$util.isInteger(message.affinityTimeoutSeconds))
                        return "affinityTimeoutSeconds: integer expected";
                if (message.internalTrafficLocal != null && $Object.hasOwnProperty.call(message, "internalTrafficLocal"))
                    if (typeof message.internalTrafficLocal !== "boolean")
                        return "internalTrafficLocal: boolean expected";
                if (message.externalTrafficLocal != null && $Object.hasOwnProperty.call(message, "externalTrafficLocal"))
                    if (typeof message.externalTrafficLocal !== "boolean")
                        return "externalTrafficLocal: boolean expected";
                if (message.externalIps != null && $Object.hasOwnProperty.call(message, "externalIps")) {
                    if (!$Array.isArray(message.externalIps))
                        return "externalIps: array expected";
                    for (let i = 0; i < message.externalIps.length; ++i)
                        if (!$util.isString(message.externalIps[i]))
                            return "externalIps: string[] expected";
                }
                if (message.loadBalancerIps != null && $Object.hasOwnProperty.call(message, "loadBalancerIps")) {
                    if (!$Array.isArray(message.loadBalancerIps))
                        return "loadBalancerIps: array expected";
                    for (let i = 0; i < message.loadBalancerIps.length; ++i)
                        if (!$util.isString(message.loadBalancerIps[i]))
                            return "loadBalancerIps: string[] expected";
                }
                if (message.loadBalancerSourceRanges != null && $Object.hasOwnProperty.call(message, "loadBalancerSourceRanges")) {
                    if (!$Array.isArray(message.loadBalancerSourceRanges))
                        return "loadBalancerSourceRanges: array expected";
                    for (let i = 0; i < message.loadBalancerSourceRanges.length; ++i)
                        if (!$util.isString(message.loadBalancerSourceRanges[i]))
                            return "loadBalancerSourceRanges: string[] expected";
                }
                if (message.healthCheckNodePort != null && $Object.hasOwnProperty.call(message, "healthCheckNodePort"))
                    if (!$util.isInteger(message.healthCheckNodePort))
                        return "healthCheckNodePort: integer expected";
                if (message.lastChangeTriggerTime != null && $Object.hasOwnProperty.call(message, "lastChangeTriggerTime"))
                    if (!$util.isString(message.lastChangeTriggerTime))
                        return "lastChangeTriggerTime: string expected";
                if (message.ipFamilies != null && $Object.hasOwnProperty.call(message, "ipFamilies")) {
                    if (!$Array.isArray(message.ipFamilies))
                        return "ipFamilies: array expected";
                    for (let i = 0; i < message.ipFamilies.length; ++i)
                        if (typeof message.ipFamilies[i] !== "number" || (message.ipFamilies[i] | 0) !== message.ipFamilies[i])
                            return "ipFamilies: enum value[] expected";
                }
                if (message.ipFamilyPolicy != null && $Object.hasOwnProperty.call(message, "ipFamilyPolicy"))
                    if (!$util.isString(message.ipFamilyPolicy))
                        return "ipFamilyPolicy: string expected";
                return null;
            };

            /**
             * Creates a Service message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof sluice.v1.Service
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {sluice.v1.Service} Service
             */
            Service.fromObject = function (object, _depth) {
                if (object instanceof $root.sluice.v1.Service)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".sluice.v1.Service: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.sluice.v1.Service();
                if (object.namespace != null)
                    if (typeof object.namespace !== "string" || object.namespace.length)
                        message.namespace = $String(object.namespace);
                if (object.name != null)
                    if (typeof object.name !== "string" || object.name.length)
                        message.name = $String(object.name);
                if (object.type != null)
                    if (typeof object.type !== "string" || object.type.length)
                        message.type = $String(object.type);
                if (object.clusterIps) {
                    if (!$Array.isArray(object.clusterIps))
                        throw $TypeError(".sluice.v1.Service.clusterIps: array expected");
                    message.clusterIps = $Array(object.clusterIps.length);
                    for (let i = 0; i < object.clusterIps.length; ++i)
                        message.clusterIps[i] = $String(object.clusterIps[i]);
                }
                if (object.ports) {
                    if (!$Array.isArray(object.ports))
                        throw $TypeError(".sluice.v1.Service.ports: array expected");
                    message.ports = $Array(object.ports.length);
                    for (let i = 0; i < object.ports.length; ++i) {
                        if (!$util.isObject(object.ports[i]))
                            throw $TypeError(".sluice.v1.Service.ports: object expected");
                        message.ports[i] = $root.sluice.v1.ServicePort.fromObject(object.ports[i], _depth + 1);
                    }
                }
                if (object.affinityClientIp != null)
                    if (object.affinityClientIp)
                        message.affinityClientIp = $Boolean(object.affinityClientIp);
                if (object.affinityTimeoutSeconds != null)
                    if ($Number(object.affinityTimeoutSeconds) !== 0)
                        message.affinityTimeoutSeconds = object.affinityTimeoutSeconds >>> 0;
                if (object.internalTrafficLocal != null)
                    if (object.internalTrafficLocal)
                        message.internalTrafficLocal = $Boolean(object.internalTrafficLocal);
                if (object.externalTrafficLocal != null)
                    if (object.externalTrafficLocal)
                        message.externalTrafficLocal = $Boolean(object.externalTrafficLocal);
                if (object.externalIps) {
                    if (!$Array.isArray(object.externalIps))
                        throw $TypeError(".sluice.v1.Service.externalIps: array expected");
                    message.externalIps = $Array(object.externalIps.length);
                    for (let i = 0; i < object.externalIps.length; ++i)
                        message.externalIps[i] = $String(object.externalIps[i]);
                }
                if (object.loadBalancerIps) {
                    if (!$Array.isArray(object.loadBalancerIps))
                        throw $TypeError(".sluice.v1.Service.loadBalancerIps: array expected");
                    message.loadBalancerIps = $Array(object.loadBalancerIps.length);
                    for (let i = 0; i < object.loadBalancerIps.length; ++i)
                        message.loadBalancerIps[i] = $String(object.loadBalancerIps[i]);
                }
                if (object.loadBalancerSourceRanges) {
                    if (!$Array.isArray(object.loadBalancerSourceRanges))
                        throw $TypeError(".sluice.v1.Service.loadBalancerSourceRanges: array expected");
                    message.loadBalancerSourceRanges = $Array(object.loadBalancerSourceRanges.length);
                    for (let i = 0; i < object.loadBalancerSourceRanges.length; ++i)
                        message.loadBalancerSourceRanges[i] = $String(object.loadBalancerSourceRanges[i]);
                }
                if (object.healthCheckNodePort != null)
                    if ($Number(object.healthCheckNodePort) !== 0)
                        message.healthCheckNodePort = object.healthCheckNodePort >>> 0;
                if (object.lastChangeTriggerTime != null)
                    if (typeof object.lastChangeTriggerTime !== "string" || object.lastChangeTriggerTime.length)
                        message.lastChangeTriggerTime = $String(object.lastChangeTriggerTime);
                if (object.ipFamilies) {
                    if (!$Array.isArray(object.ipFamilies))
                        throw $TypeError(".sluice.v1.Service.ipFamilies: array expected");
                    message.ipFamilies = [];
                    for (let i = 0; i < object.ipFamilies.length; ++i)
                        switch (object.ipFamilies[i]) {
                        case "IP_FAMILY_UNSPECIFIED":
                        case 0:
                            message.ipFamilies[message.ipFamilies.length] = 0;
                            break;
                        case "IPV4":
                        case 4:
                            message.ipFamilies[message.ipFamilies.length] = 4;
                            break;
                        case "IPV6":
                        case 6:
                            message.ipFamilies[message.ipFamilies.length] = 6;
                            break;
                        default:
                            if (typeof object.ipFamilies[i] === "number" && (object.ipFamilies[i] | 0) === object.ipFamilies[i])
                                message.ipFamilies[message.ipFamilies.length] = object.ipFamilies[i];
                        }
                }
                if (object.ipFamilyPolicy != null)
                    if (typeof object.ipFamilyPolicy !== "string" || object.ipFamilyPolicy.length)
                        message.ipFamilyPolicy = $String(object.ipFamilyPolicy);
                return message;
            };

            /**
             * Creates a plain object from a Service message. Also converts values to other types if specified.
             * @function toObject
             * @memberof sluice.v1.Service
             * @static
             * @param {sluice.v1.Service} message Service
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            Service.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.arrays || options.defaults) {
                    object.clusterIps = [];
                    object.ports = [];
                    object.externalIps = [];
                    object.loadBalancerIps = [];
                    object.loadBalancerSourceRanges = [];
                    object.ipFamilies = [];
                }
                if (options.defaults) {
                    object.namespace = "";
                    object.name = "";
                    object.type = "";
                    object.affinityClientIp = false;
                    object.affinityTimeoutSeconds = 0;
                    object.internalTrafficLocal = false;
                    object.externalTrafficLocal = false;
                    object.healthCheckNodePort = 0;
                    object.lastChangeTriggerTime = "";
                    object.ipFamilyPolicy = "";
                }
                if (message.namespace != null && $Object.hasOwnProperty.call(message, "namespace"))
                    object.namespace = message.namespace;
                if (message.name != null && $Object.hasOwnProperty.call(message, "name"))
                    object.name = message.name;
                if (message.type != null && $Object.hasOwnProperty.call(message, "type"))
                    object.type = message.type;
                if (message.clusterIps && message.clusterIps.length) {
                    object.clusterIps = $Array(message.clusterIps.length);
                    for (let j = 0; j < message.clusterIps.length; ++j)
                        object.clusterIps[j] = message.clusterIps[j];
                }
                if (message.ports && message.ports.length) {
                    object.ports = $Array(message.ports.length);
                    for (let j = 0; j < message.ports.length; ++j)
                        object.ports[j] = $root.sluice.v1.ServicePort.toObject(message.ports[j], options, _depth + 1);
                }
                if (message.affinityClientIp != null && $Object.hasOwnProperty.call(message, "affinityClientIp"))
                    object.affinityClientIp = message.affinityClientIp;
                if (message.affinityTimeoutSeconds != null && $Object.hasOwnProperty.call(message, "affinityTimeoutSeconds"))
                    object.affinityTimeoutSeconds = message.affinityTimeoutSeconds;
                if (message.internalTrafficLocal != null && $Object.hasOwnProperty.call(message, "internalTrafficLocal"))
                    object.internalTrafficLocal = message.internalTrafficLocal;
                if (message.externalTrafficLocal != null && $Object.hasOwnProperty.call(message, "externalTrafficLocal"))
                    object.externalTrafficLocal = message.externalTrafficLocal;
                if (message.externalIps && message.externalIps.length) {
                    object.externalIps = $Array(message.externalIps.length);
                    for (let j = 0; j < message.externalIps.length; ++j)
                        object.externalIps[j] = message.externalIps[j];
                }
                if (message.loadBalancerIps && message.loadBalancerIps.length) {
                    object.loadBalancerIps = $Array(message.loadBalancerIps.length);
                    for (let j = 0; j < message.loadBalancerIps.length; ++j)
                        object.loadBalancerIps[j] = message.loadBalancerIps[j];
                }
                if (message.loadBalancerSourceRanges && message.loadBalancerSourceRanges.length) {
                    object.loadBalancerSourceRanges = $Array(message.loadBalancerSourceRanges.length);
                    for (let j = 0; j < message.loadBalancerSourceRanges.length; ++j)
                        object.loadBalancerSourceRanges[j] = message.loadBalancerSourceRanges[j];
                }
                if (message.healthCheckNodePort != null && $Object.hasOwnProperty.call(message, "healthCheckNodePort"))
                    object.healthCheckNodePort = message.healthCheckNodePort;
                if (message.lastChangeTriggerTime != null && $Object.hasOwnProperty.call(message, "lastChangeTriggerTime"))
                    object.lastChangeTriggerTime = message.lastChangeTriggerTime;
                if (message.ipFamilies && message.ipFamilies.length) {
                    object.ipFamilies = $Array(message.ipFamilies.length);
                    for (let j = 0; j < message.ipFamilies.length; ++j)
                        object.ipFamilies[j] = options.enums === $String ? $root.sluice.v1.IPFamily[message.ipFamilies[j]] === $undefined ? message.ipFamilies[j] : $root.sluice.v1.IPFamily[message.ipFamilies[j]] : message.ipFamilies[j];
                }
                if (message.ipFamilyPolicy != null && $Object.hasOwnProperty.call(message, "ipFamilyPolicy"))
                    object.ipFamilyPolicy = message.ipFamilyPolicy;
                return object;
            };

            /**
             * Converts this Service to JSON.
             * @function toJSON
             * @memberof sluice.v1.Service
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            Service.prototype.toJSON = function() {
                return Service.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for Service
             * @function getTypeUrl
             * @memberof sluice.v1.Service
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Service.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/sluice.v1.Service";
            };

            return Service;
        })();

        v1.ServicePort = (function() {

            /**
             * Properties of a ServicePort.
             * @typedef {Object} sluice.v1.ServicePort.$Properties
             * @property {string|null} [name] ServicePort name
             * @property {string|null} [protocol] ServicePort protocol
             * @property {number|null} [port] ServicePort port
             * @property {number|null} [nodePort] ServicePort nodePort
             * @property {Array.<sluice.v1.Endpoint.$Properties>|null} [endpoints] ServicePort endpoints
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of a ServicePort.
             * @memberof sluice.v1
             * @interface IServicePort
             * @augments sluice.v1.ServicePort.$Properties
             * @deprecated Use sluice.v1.ServicePort.$Properties instead.
             */

            /**
             * Shape of a ServicePort.
             * @typedef {sluice.v1.ServicePort.$Properties} sluice.v1.ServicePort.$Shape
             */

            /**
             * Constructs a new ServicePort.
             * @memberof sluice.v1
             * @classdesc Represents a ServicePort.
             * @constructor
             * @param {sluice.v1.ServicePort.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const ServicePort = function (properties) {
                this.endpoints = [];
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * ServicePort name.
             * @member {string} name
             * @memberof sluice.v1.ServicePort
             * @instance
             */
            ServicePort.prototype.name = "";

            /**
             * ServicePort protocol.
             * @member {string} protocol
             * @memberof sluice.v1.ServicePort
             * @instance
             */
            ServicePort.prototype.protocol = "";

            /**
             * ServicePort port.
             * @member {number} port
             * @memberof sluice.v1.ServicePort
             * @instance
             */
            ServicePort.prototype.port = 0;

            /**
             * ServicePort nodePort.
             * @member {number} nodePort
             * @memberof sluice.v1.ServicePort
             * @instance
             */
            ServicePort.prototype.nodePort = 0;

            /**
             * ServicePort endpoints.
             * @member {Array.<sluice.v1.Endpoint.$Properties>} endpoints
             * @memberof sluice.v1.ServicePort
             * @instance
             */
            ServicePort.prototype.endpoints = $util.emptyArray;

            /**
             * Creates a new ServicePort instance using the specified properties.
             * @function create
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {sluice.v1.ServicePort.$Properties=} [properties] Properties to set
             * @returns {sluice.v1.ServicePort} ServicePort instance
             * @type {{
             *   (properties: sluice.v1.ServicePort.$Shape): sluice.v1.ServicePort & sluice.v1.ServicePort.$Shape;
             *   (properties?: sluice.v1.ServicePort.$Properties): sluice.v1.ServicePort;
             * }}
             */
            ServicePort.create = function(properties) {
                return new ServicePort(properties);
            };

            /**
             * Encodes the specified ServicePort message. Does not implicitly {@link sluice.v1.ServicePort.verify|verify} messages.
             * @function encode
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {sluice.v1.ServicePort.$Properties} message ServicePort message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ServicePort.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.name != null && $Object.hasOwnProperty.call(message, "name") && message.name !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.name);
                if (message.protocol != null && $Object.hasOwnProperty.call(message, "protocol") && message.protocol !== "")
                    writer.uint32(/* id 2, wireType 2 =*/18).string(message.protocol);
                if (message.port != null && $Object.hasOwnProperty.call(message, "port") && message.port !== 0)
                    writer.uint32(/* id 3, wireType 0 =*/24).uint32(message.port);
                if (message.nodePort != null && $Object.hasOwnProperty.call(message, "nodePort") && message.nodePort !== 0)
                    writer.uint32(/* id 4, wireType 0 =*/32).uint32(message.nodePort);
                if (message.endpoints != null && message.endpoints.length)
                    for (let i = 0; i < message.endpoints.length; ++i)
                        $root.sluice.v1.Endpoint.encode(message.endpoints[i], writer.uint32(/* id 5, wireType 2 =*/42).fork(), _depth + 1).ldelim();
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified ServicePort message, length delimited. Does not implicitly {@link sluice.v1.ServicePort.verify|verify} messages.
             * @function encodeDelimited
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {sluice.v1.ServicePort.$Properties} message ServicePort message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            ServicePort.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes a ServicePort message from the specified reader or buffer.
             * @function decode
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {sluice.v1.ServicePort & sluice.v1.ServicePort.$Shape} ServicePort
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ServicePort.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.sluice.v1.ServicePort();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.name = value;
                            else
                                delete message.name;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.protocol = value;
                            else
                                delete message.protocol;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.port = value;
                            else
                                delete message.port;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.nodePort = value;
                            else
                                delete message.nodePort;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 2)
                                break;
                            if (!(message.endpoints && message.endpoints.length))
                                message.endpoints = [];
                            message.endpoints.push($root.sluice.v1.Endpoint.decode(reader, reader.size(), $undefined, _depth + 1));
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes a ServicePort message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {sluice.v1.ServicePort & sluice.v1.ServicePort.$Shape} ServicePort
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            ServicePort.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies a ServicePort message.
             * @function verify
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            ServicePort.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.name != null && $Object.hasOwnProperty.call(message, "name"))
                    if (!$util.isString(message.name))
                        return "name: string expected";
                if (message.protocol != null && $Object.hasOwnProperty.call(message, "protocol"))
                    if (!$util.isString(message.protocol))
                        return "protocol: string expected";
                if (message.port != null && $Object.hasOwnProperty.call(message, "port"))
                    if (!$util.isInteger(message.port))
                        return "port: integer expected";
                if (message.nodePort != null && $Object.hasOwnProperty.call(message, "nodePort"))
                    if (!$util.isInteger(message.nodePort))
                        return "nodePort: integer expected";
                if (message.endpoints != null && $Object.hasOwnProperty.call(message, "endpoints")) {
                    if (!$Array.isArray(message.endpoints))
                        return "endpoints: array expected";
                    for (let i = 0; i < message.endpoints.length; ++i) {
                        let error = $root.sluice.v1.Endpoint.verify(message.endpoints[i], _depth + 1);
                        if (error)
                            return "endpoints." + error;
                    }
                }
                return null;
            };

            /**
             * Creates a ServicePort message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {sluice.v1.ServicePort} ServicePort
             */
            ServicePort.fromObject = function (object, _depth) {
                if (object instanceof $root.sluice.v1.ServicePort)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".sluice.v1.ServicePort: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.sluice.v1.ServicePort();
                if (object.name != null)
                    if (typeof object.name !== "string" || object.name.length)
                        message.name = $String(object.name);
                if (object.protocol != null)
                    if (typeof object.protocol !== "string" || object.protocol.length)
                        message.protocol = $String(object.protocol);
                if (object.port != null)
                    if ($Number(object.port) !== 0)
                        message.port = object.port >>> 0;
                if (object.nodePort != null)
                    if ($Number(object.nodePort) !== 0)
                        message.nodePort = object.nodePort >>> 0;
                if (object.endpoints) {
                    if (!$Array.isArray(object.endpoints))
                        throw $TypeError(".sluice.v1.ServicePort.endpoints: array expected");
                    message.endpoints = $Array(object.endpoints.length);
                    for (let i = 0; i < object.endpoints.length; ++i) {
                        if (!$util.isObject(object.endpoints[i]))
                            throw $TypeError(".sluice.v1.ServicePort.endpoints: object expected");
                        message.endpoints[i] = $root.sluice.v1.Endpoint.fromObject(object.endpoints[i], _depth + 1);
                    }
                }
                return message;
            };

            /**
             * Creates a plain object from a ServicePort message. Also converts values to other types if specified.
             * @function toObject
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {sluice.v1.ServicePort} message ServicePort
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            ServicePort.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.arrays || options.defaults)
                    object.endpoints = [];
                if (options.defaults) {
                    object.name = "";
                    object.protocol = "";
                    object.port = 0;
                    object.nodePort = 0;
                }
                if (message.name != null && $Object.hasOwnProperty.call(message, "name"))
                    object.name = message.name;
                if (message.protocol != null && $Object.hasOwnProperty.call(message, "protocol"))
                    object.protocol = message.protocol;
                if (message.port != null && $Object.hasOwnProperty.call(message, "port"))
                    object.port = message.port;
                if (message.nodePort != null && $Object.hasOwnProperty.call(message, "nodePort"))
                    object.nodePort = message.nodePort;
                if (message.endpoints && message.endpoints.length) {
                    object.endpoints = $Array(message.endpoints.length);
                    for (let j = 0; j < message.endpoints.length; ++j)
                        object.endpoints[j] = $root.sluice.v1.Endpoint.toObject(message.endpoints[j], options, _depth + 1);
                }
                return object;
            };

            /**
             * Converts this ServicePort to JSON.
             * @function toJSON
             * @memberof sluice.v1.ServicePort
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            ServicePort.prototype.toJSON = function() {
                return ServicePort.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for ServicePort
             * @function getTypeUrl
             * @memberof sluice.v1.ServicePort
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            ServicePort.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/sluice.v1.ServicePort";
            };

            return ServicePort;
        })();

        v1.Endpoint = (function() {

            /**
             * Properties of an Endpoint.
             * @typedef {Object} sluice.v1.Endpoint.$Properties
             * @property {string|null} [ip] Endpoint ip
             * @property {number|null} [port] Endpoint port
             * @property {boolean|null} [ready] Endpoint ready
             * @property {boolean|null} [serving] Endpoint serving
             * @property {boolean|null} [terminating] Endpoint terminating
             * @property {string|null} [nodeName] Endpoint nodeName
             * @property {string|null} [targetRef] Endpoint targetRef
             * @property {boolean|null} [internal] Endpoint internal
             * @property {boolean|null} [external] Endpoint external
             * @property {boolean|null} [cluster] Endpoint cluster
             * @property {sluice.v1.IPFamily|null} [family] Endpoint family
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */

            /**
             * Properties of an Endpoint.
             * @memberof sluice.v1
             * @interface IEndpoint
             * @augments sluice.v1.Endpoint.$Properties
             * @deprecated Use sluice.v1.Endpoint.$Properties instead.
             */

            /**
             * Shape of an Endpoint.
             * @typedef {sluice.v1.Endpoint.$Properties} sluice.v1.Endpoint.$Shape
             */

            /**
             * Constructs a new Endpoint.
             * @memberof sluice.v1
             * @classdesc Represents an Endpoint.
             * @constructor
             * @param {sluice.v1.Endpoint.$Properties=} [properties] Properties to set
             * @property {Array.<Uint8Array>} [$unknowns] Unknown fields preserved while decoding when enabled
             */
            const Endpoint = function (properties) {
                if (properties)
                    for (let keys = $Object.keys(properties), i = 0; i < keys.length; ++i)
                        if (properties[keys[i]] != null && keys[i] !== "__proto__")
                            this[keys[i]] = properties[keys[i]];
            };

            /**
             * Endpoint ip.
             * @member {string} ip
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.ip = "";

            /**
             * Endpoint port.
             * @member {number} port
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.port = 0;

            /**
             * Endpoint ready.
             * @member {boolean} ready
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.ready = false;

            /**
             * Endpoint serving.
             * @member {boolean} serving
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.serving = false;

            /**
             * Endpoint terminating.
             * @member {boolean} terminating
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.terminating = false;

            /**
             * Endpoint nodeName.
             * @member {string} nodeName
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.nodeName = "";

            /**
             * Endpoint targetRef.
             * @member {string} targetRef
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.targetRef = "";

            /**
             * Endpoint internal.
             * @member {boolean} internal
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.internal = false;

            /**
             * Endpoint external.
             * @member {boolean} external
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.external = false;

            /**
             * Endpoint cluster.
             * @member {boolean} cluster
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.cluster = false;

            /**
             * Endpoint family.
             * @member {sluice.v1.IPFamily} family
             * @memberof sluice.v1.Endpoint
             * @instance
             */
            Endpoint.prototype.family = 0;

            /**
             * Creates a new Endpoint instance using the specified properties.
             * @function create
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {sluice.v1.Endpoint.$Properties=} [properties] Properties to set
             * @returns {sluice.v1.Endpoint} Endpoint instance
             * @type {{
             *   (properties: sluice.v1.Endpoint.$Shape): sluice.v1.Endpoint & sluice.v1.Endpoint.$Shape;
             *   (properties?: sluice.v1.Endpoint.$Properties): sluice.v1.Endpoint;
             * }}
             */
            Endpoint.create = function(properties) {
                return new Endpoint(properties);
            };

            /**
             * Encodes the specified Endpoint message. Does not implicitly {@link sluice.v1.Endpoint.verify|verify} messages.
             * @function encode
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {sluice.v1.Endpoint.$Properties} message Endpoint message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Endpoint.encode = function (message, writer, _depth) {
                if (!writer)
                    writer = $Writer.create();
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                if (message.ip != null && $Object.hasOwnProperty.call(message, "ip") && message.ip !== "")
                    writer.uint32(/* id 1, wireType 2 =*/10).string(message.ip);
                if (message.port != null && $Object.hasOwnProperty.call(message, "port") && message.port !== 0)
                    writer.uint32(/* id 2, wireType 0 =*/16).uint32(message.port);
                if (message.ready != null && $Object.hasOwnProperty.call(message, "ready") && message.ready !== false)
                    writer.uint32(/* id 3, wireType 0 =*/24).bool(message.ready);
                if (message.serving != null && $Object.hasOwnProperty.call(message, "serving") && message.serving !== false)
                    writer.uint32(/* id 4, wireType 0 =*/32).bool(message.serving);
                if (message.terminating != null && $Object.hasOwnProperty.call(message, "terminating") && message.terminating !== false)
                    writer.uint32(/* id 5, wireType 0 =*/40).bool(message.terminating);
                if (message.nodeName != null && $Object.hasOwnProperty.call(message, "nodeName") && message.nodeName !== "")
                    writer.uint32(/* id 6, wireType 2 =*/50).string(message.nodeName);
                if (message.targetRef != null && $Object.hasOwnProperty.call(message, "targetRef") && message.targetRef !== "")
                    writer.uint32(/* id 7, wireType 2 =*/58).string(message.targetRef);
                if (message.internal != null && $Object.hasOwnProperty.call(message, "internal") && message.internal !== false)
                    writer.uint32(/* id 8, wireType 0 =*/64).bool(message.internal);
                if (message.external != null && $Object.hasOwnProperty.call(message, "external") && message.external !== false)
                    writer.uint32(/* id 9, wireType 0 =*/72).bool(message.external);
                if (message.cluster != null && $Object.hasOwnProperty.call(message, "cluster") && message.cluster !== false)
                    writer.uint32(/* id 10, wireType 0 =*/80).bool(message.cluster);
                if (message.family != null && $Object.hasOwnProperty.call(message, "family") && message.family !== 0)
                    writer.uint32(/* id 11, wireType 0 =*/88).int32(message.family);
                if (message.$unknowns != null && $Object.hasOwnProperty.call(message, "$unknowns"))
                    for (let i = 0; i < message.$unknowns.length; ++i)
                        writer.raw(message.$unknowns[i]);
                return writer;
            };

            /**
             * Encodes the specified Endpoint message, length delimited. Does not implicitly {@link sluice.v1.Endpoint.verify|verify} messages.
             * @function encodeDelimited
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {sluice.v1.Endpoint.$Properties} message Endpoint message or plain object to encode
             * @param {$protobuf.Writer} [writer] Writer to encode to
             * @returns {$protobuf.Writer} Writer
             */
            Endpoint.encodeDelimited = function(message, writer) {
                return this.encode(message, (writer || $Writer.create()).fork()).ldelim();
            };

            /**
             * Decodes an Endpoint message from the specified reader or buffer.
             * @function decode
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @param {number} [length] Message length if known beforehand
             * @returns {sluice.v1.Endpoint & sluice.v1.Endpoint.$Shape} Endpoint
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Endpoint.decode = function (reader, length, _end, _depth, _target) {
                if (!(reader instanceof $Reader))
                    reader = $Reader.create(reader);
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $Reader.recursionLimit)
                    throw $Error("max depth exceeded");
                let end, message, value;
                if (length === $undefined)
                    end = reader.len;
                else {
                    end = reader.pos + length;
                    if (end > reader.len)
                        throw $RangeError("index out of range");
                    length = reader.len;
                    reader.len = end;
                }
                message = _target || new $root.sluice.v1.Endpoint();
                while (reader.pos < end) {
                    let start = reader.pos;
                    let tag = reader.tag();
                    if (tag === _end) {
                        _end = $undefined;
                        break;
                    }
                    let wireType = tag & 7;
                    switch (tag >>>= 3) {
                    case 1: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.ip = value;
                            else
                                delete message.ip;
                            continue;
                        }
                    case 2: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.uint32())
                                message.port = value;
                            else
                                delete message.port;
                            continue;
                        }
                    case 3: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.ready = value;
                            else
                                delete message.ready;
                            continue;
                        }
                    case 4: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.serving = value;
                            else
                                delete message.serving;
                            continue;
                        }
                    case 5: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.terminating = value;
                            else
                                delete message.terminating;
                            continue;
                        }
                    case 6: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.nodeName = value;
                            else
                                delete message.nodeName;
                            continue;
                        }
                    case 7: {
                            if (wireType !== 2)
                                break;
                            if ((value = reader.stringVerify()).length)
                                message.targetRef = value;
                            else
                                delete message.targetRef;
                            continue;
                        }
                    case 8: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.internal = value;
                            else
                                delete message.internal;
                            continue;
                        }
                    case 9: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.external = value;
                            else
                                delete message.external;
                            continue;
                        }
                    case 10: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.bool())
                                message.cluster = value;
                            else
                                delete message.cluster;
                            continue;
                        }
                    case 11: {
                            if (wireType !== 0)
                                break;
                            if (value = reader.int32())
                                message.family = value;
                            else
                                delete message.family;
                            continue;
                        }
                    }
                    reader.skipType(wireType, _depth, tag);
                    if (!reader.discardUnknown) {
                        $util.makeProp(message, "$unknowns", false);
                        (message.$unknowns || (message.$unknowns = [])).push(reader.raw(start, reader.pos));
                    }
                }
                if (length !== $undefined) {
                    if (reader.pos !== end)
                        throw $RangeError("index out of range");
                    reader.len = length;
                }
                if (_end !== $undefined)
                    throw $Error("missing end group");
                return message;
            };

            /**
             * Decodes an Endpoint message from the specified reader or buffer, length delimited.
             * @function decodeDelimited
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {$protobuf.Reader|Uint8Array} reader Reader or buffer to decode from
             * @returns {sluice.v1.Endpoint & sluice.v1.Endpoint.$Shape} Endpoint
             * @throws {Error} If the payload is not a reader or valid buffer
             * @throws {$protobuf.util.ProtocolError} If required fields are missing
             */
            Endpoint.decodeDelimited = function(reader) {
                if (!(reader instanceof $Reader))
                    reader = new $Reader(reader);
                return this.decode(reader, reader.size());
            };

            /**
             * Verifies an Endpoint message.
             * @function verify
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {Object.<string,*>} message Plain object to verify
             * @returns {string|null} `null` if valid, otherwise the reason why it is not
             */
            Endpoint.verify = function (message, _depth) {
                if (typeof message !== "object" || message === null)
                    return "object expected";
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    return "max depth exceeded";
                if (message.ip != null && $Object.hasOwnProperty.call(message, "ip"))
                    if (!$util.isString(message.ip))
                        return "ip: string expected";
                if (message.port != null && $Object.hasOwnProperty.call(message, "port"))
                    if (!$util.isInteger(message.port))
                        return "port: integer expected";
                if (message.ready != null && $Object.hasOwnProperty.call(message, "ready"))
                    if (typeof message.ready !== "boolean")
                        return "ready: boolean expected";
                if (message.serving != null && $Object.hasOwnProperty.call(message, "serving"))
                    if (typeof message.serving !== "boolean")
                        return "serving: boolean expected";
                if (message.terminating != null && $Object.hasOwnProperty.call(message, "terminating"))
                    if (typeof message.terminating !== "boolean")
                        return "terminating: boolean expected";
                if (message.nodeName != null && $Object.hasOwnProperty.call(message, "nodeName"))
                    if (!$util.isString(message.nodeName))
                        return "nodeName: string expected";
                if (message.targetRef != null && $Object.hasOwnProperty.call(message, "targetRef"))
                    if (!$util.isString(message.targetRef))
                        return "targetRef: string expected";
                if (message.internal != null && $Object.hasOwnProperty.call(message, "internal"))
                    if (typeof message.internal !== "boolean")
                        return "internal: boolean expected";
                if (message.external != null && $Object.hasOwnProperty.call(message, "external"))
                    if (typeof message.external !== "boolean")
                        return "external: boolean expected";
                if (message.cluster != null && $Object.hasOwnProperty.call(message, "cluster"))
                    if (typeof message.cluster !== "boolean")
                        return "cluster: boolean expected";
                if (message.family != null && $Object.hasOwnProperty.call(message, "family"))
                    if (typeof message.family !== "number" || (message.family | 0) !== message.family)
                        return "family: enum value expected";
                return null;
            };

            /**
             * Creates an Endpoint message from a plain object. Also converts values to their respective internal types.
             * @function fromObject
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {Object.<string,*>} object Plain object
             * @returns {sluice.v1.Endpoint} Endpoint
             */
            Endpoint.fromObject = function (object, _depth) {
                if (object instanceof $root.sluice.v1.Endpoint)
                    return object;
                if (!$util.isObject(object))
                    throw $TypeError(".sluice.v1.Endpoint: object expected");
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let message = new $root.sluice.v1.Endpoint();
                if (object.ip != null)
                    if (typeof object.ip !== "string" || object.ip.length)
                        message.ip = $String(object.ip);
                if (object.port != null)
                    if ($Number(object.port) !== 0)
                        message.port = object.port >>> 0;
                if (object.ready != null)
                    if (object.ready)
                        message.ready = $Boolean(object.ready);
                if (object.serving != null)
                    if (object.serving)
                        message.serving = $Boolean(object.serving);
                if (object.terminating != null)
                    if (object.terminating)
                        message.terminating = $Boolean(object.terminating);
                if (object.nodeName != null)
                    if (typeof object.nodeName !== "string" || object.nodeName.length)
                        message.nodeName = $String(object.nodeName);
                if (object.targetRef != null)
                    if (typeof object.targetRef !== "string" || object.targetRef.length)
                        message.targetRef = $String(object.targetRef);
                if (object.internal != null)
                    if (object.internal)
                        message.internal = $Boolean(object.internal);
                if (object.external != null)
                    if (object.external)
                        message.external = $Boolean(object.external);
                if (object.cluster != null)
                    if (object.cluster)
                        message.cluster = $Boolean(object.cluster);
                if (object.family !== 0 && (typeof object.family !== "string" || $root.sluice.v1.IPFamily[object.family] !== 0))
                    switch (object.family) {
                    case "IP_FAMILY_UNSPECIFIED":
                    case 0:
                        message.family = 0;
                        break;
                    case "IPV4":
                    case 4:
                        message.family = 4;
                        break;
                    case "IPV6":
                    case 6:
                        message.family = 6;
                        break;
                    default:
                        if (typeof object.family === "number" && (object.family | 0) === object.family)
                            message.family = object.family;
                    }
                return message;
            };

            /**
             * Creates a plain object from an Endpoint message. Also converts values to other types if specified.
             * @function toObject
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {sluice.v1.Endpoint} message Endpoint
             * @param {$protobuf.IConversionOptions} [options] Conversion options
             * @returns {Object.<string,*>} Plain object
             */
            Endpoint.toObject = function (message, options, _depth) {
                if (!options)
                    options = {};
                if (_depth === $undefined)
                    _depth = 0;
                if (_depth > $util.recursionLimit)
                    throw $Error("max depth exceeded");
                let object = {};
                if (options.defaults) {
                    object.ip = "";
                    object.port = 0;
                    object.ready = false;
                    object.serving = false;
                    object.terminating = false;
                    object.nodeName = "";
                    object.targetRef = "";
                    object.internal = false;
                    object.external = false;
                    object.cluster = false;
                    object.family = options.enums === $String ? "IP_FAMILY_UNSPECIFIED" : 0;
                }
                if (message.ip != null && $Object.hasOwnProperty.call(message, "ip"))
                    object.ip = message.ip;
                if (message.port != null && $Object.hasOwnProperty.call(message, "port"))
                    object.port = message.port;
                if (message.ready != null && $Object.hasOwnProperty.call(message, "ready"))
                    object.ready = message.ready;
                if (message.serving != null && $Object.hasOwnProperty.call(message, "serving"))
                    object.serving = message.serving;
                if (message.terminating != null && $Object.hasOwnProperty.call(message, "terminating"))
                    object.terminating = message.terminating;
                if (message.nodeName != null && $Object.hasOwnProperty.call(message, "nodeName"))
                    object.nodeName = message.nodeName;
                if (message.targetRef != null && $Object.hasOwnProperty.call(message, "targetRef"))
                    object.targetRef = message.targetRef;
                if (message.internal != null && $Object.hasOwnProperty.call(message, "internal"))
                    object.internal = message.internal;
                if (message.external != null && $Object.hasOwnProperty.call(message, "external"))
                    object.external = message.external;
                if (message.cluster != null && $Object.hasOwnProperty.call(message, "cluster"))
                    object.cluster = message.cluster;
                if (message.family != null && $Object.hasOwnProperty.call(message, "family"))
                    object.family = options.enums === $String ? $root.sluice.v1.IPFamily[message.family] === $undefined ? message.family : $root.sluice.v1.IPFamily[message.family] : message.family;
                return object;
            };

            /**
             * Converts this Endpoint to JSON.
             * @function toJSON
             * @memberof sluice.v1.Endpoint
             * @instance
             * @returns {Object.<string,*>} JSON object
             */
            Endpoint.prototype.toJSON = function() {
                return Endpoint.toObject(this, $protobuf.util.toJSONOptions);
            };

            /**
             * Gets the type url for Endpoint
             * @function getTypeUrl
             * @memberof sluice.v1.Endpoint
             * @static
             * @param {string} [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
             * @returns {string} The type url
             */
            Endpoint.getTypeUrl = function(prefix) {
                if (prefix === $undefined)
                    prefix = "type.googleapis.com";
                return prefix + "/sluice.v1.Endpoint";
            };

            return Endpoint;
        })();

        return v1;
    })();

    return sluice;
})();

export {
  $root as default
};
