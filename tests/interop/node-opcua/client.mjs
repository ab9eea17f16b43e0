// A node-opcua client driven by JSON lines, for tests/integration/test_opcua_node_interop.py.
//
// Each stdin line is one request {"id": n, "op": "...", ...}; each answer is one stdout
// line {"id": n, "ok": true, "result": ...} or {"id": n, "ok": false, "error": "..."}.
// A long-lived process (not one per call) so a subscription can outlive a request: the
// test changes the PLC between "subscribe" and "changes". node-opcua's own logging is
// sent to stderr so stdout carries nothing but answers.
//
// Ops: certificate, trust, connect, browse, read, eurange, write, subscribe, changes,
// history, processed, call, disconnect.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

import certificateManager from "node-opcua-certificate-manager";
import opcua from "node-opcua-client";

const { OPCUACertificateManager } = certificateManager;
const {
  AttributeIds,
  BrowseDirection,
  ClientMonitoredItem,
  ClientSubscription,
  DataType,
  HistoryReadRequest,
  MessageSecurityMode,
  NodeClass,
  OPCUAClient,
  ReadProcessedDetails,
  ReadRawModifiedDetails,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  UserTokenType,
  makeBrowsePath,
} = opcua;

console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);
console.warn = (...args) => console.error(...args);

const state = {
  certificates: null, // OPCUACertificateManager
  certificateFile: null,
  applicationUri: null,
  client: null,
  session: null,
  subscription: null,
  items: new Map(), // handle -> {item, changes: [], waiters: []}
};

function plain(value) {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return value.toString();
  if (Buffer.isBuffer(value)) return value.toString("base64");
  if (Array.isArray(value) && value.length === 2 && value.every(Number.isInteger)) {
    return value; // node-opcua's [high, low] Int64/UInt64 words
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return Array.from(value, plain);
  if (typeof value === "object") {
    if (typeof value.toJSON === "function") return value.toJSON();
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function dataValue(dv) {
  return {
    value: plain(dv.value?.value),
    dataType: dv.value ? DataType[dv.value.dataType] : null,
    statusCode: dv.statusCode.name,
    sourceTimestamp: dv.sourceTimestamp ? dv.sourceTimestamp.toISOString() : null,
    serverTimestamp: dv.serverTimestamp ? dv.serverTimestamp.toISOString() : null,
  };
}

function session() {
  if (!state.session) throw new Error("not connected");
  return state.session;
}

const ops = {
  /** Create (first time) this client's PKI and certificate; return the certificate's path. */
  async certificate({ pki, applicationUri }) {
    const certificates = new OPCUACertificateManager({
      rootFolder: pki,
      automaticallyAcceptUnknownCertificate: false,
    });
    await certificates.initialize();
    const certificateFile = path.join(certificates.rootDir, "own/certs/client_certificate.pem");
    if (!existsSync(certificateFile)) {
      await certificates.createSelfSignedCertificate({
        applicationUri,
        dns: ["localhost"],
        outputFile: certificateFile,
        subject: "/CN=gateway-interop-node-opcua",
        startDate: new Date(),
        validity: 365,
      });
    }
    Object.assign(state, { certificates, certificateFile, applicationUri });
    return { certificate: certificateFile };
  },

  /** Trust a server certificate (DER or PEM file) in the client's PKI. */
  async trust({ file }) {
    let data = readFileSync(file);
    const text = data.toString("latin1");
    if (text.includes("-----BEGIN CERTIFICATE-----")) {
      const body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END")[0];
      data = Buffer.from(body.replace(/\s+/g, ""), "base64");
    }
    await state.certificates.trustCertificate(data);
    return { trusted: file };
  },

  async connect({ url, policy = "None", mode = "None", user, password }) {
    const options = {
      applicationName: "GatewayInteropNodeOPCUA",
      applicationUri: state.applicationUri ?? "urn:test:node-opcua-interop",
      securityPolicy: SecurityPolicy[policy],
      securityMode: MessageSecurityMode[mode],
      endpointMustExist: true,
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
      requestedSessionTimeout: 60_000,
      keepSessionAlive: false,
    };
    if (state.certificates) {
      options.clientCertificateManager = state.certificates;
      options.certificateFile = state.certificateFile;
    }
    const client = OPCUAClient.create(options);
    await client.connect(url);
    state.client = client;
    try {
      const identity =
        user === undefined
          ? { type: UserTokenType.Anonymous }
          : { type: UserTokenType.UserName, userName: user, password };
      state.session = await client.createSession(identity);
    } catch (error) {
      state.client = null;
      await client.disconnect();
      throw error;
    }
    const endpoint = client.endpoint;
    return {
      securityPolicyUri: endpoint?.securityPolicyUri ?? null,
      securityMode: endpoint ? MessageSecurityMode[endpoint.securityMode] : null,
    };
  },

  /** Hierarchical children of a node (every page, following continuation points). */
  async browse({ nodeId }) {
    const result = await session().browse({
      nodeId,
      browseDirection: BrowseDirection.Forward,
      referenceTypeId: "HierarchicalReferences",
      includeSubtypes: true,
      nodeClassMask: 0,
      resultMask: 63,
    });
    if (result.statusCode !== StatusCodes.Good) throw new Error(result.statusCode.name);
    let references = result.references ?? [];
    let continuation = result.continuationPoint;
    while (continuation && continuation.length) {
      const next = await session().browseNext(continuation, false);
      references = references.concat(next.references ?? []);
      continuation = next.continuationPoint;
    }
    return references.map((ref) => ({
      nodeId: ref.nodeId.toString(),
      browseName: ref.browseName.toString(),
      displayName: ref.displayName.text,
      nodeClass: NodeClass[ref.nodeClass],
      typeDefinition: ref.typeDefinition.toString(),
    }));
  },

  async read({ nodeId }) {
    const attributes = ["Value", "DataType", "AccessLevel", "UserAccessLevel", "Historizing"];
    const values = await session().read(
      attributes.map((name) => ({ nodeId, attributeId: AttributeIds[name] })),
    );
    const result = Object.fromEntries(attributes.map((name, i) => [name, values[i]]));
    return {
      value: dataValue(result.Value),
      dataType: result.DataType.value.value.toString(),
      accessLevel: result.AccessLevel.value.value,
      userAccessLevel: result.UserAccessLevel.value.value,
      historizing: result.Historizing.value.value,
    };
  },

  /** EURange and EngineeringUnits properties, found by browse path like a UI client does. */
  async eurange({ nodeId }) {
    const paths = [".EURange", ".EngineeringUnits"].map((p) => makeBrowsePath(nodeId, p));
    const found = await session().translateBrowsePath(paths);
    const read = async (result) => {
      if (result.statusCode !== StatusCodes.Good) return { statusCode: result.statusCode.name };
      const dv = await session().read({
        nodeId: result.targets[0].targetId,
        attributeId: AttributeIds.Value,
      });
      return { statusCode: dv.statusCode.name, value: plain(dv.value.value) };
    };
    return { euRange: await read(found[0]), engineeringUnits: await read(found[1]) };
  },

  async write({ nodeId, dataType, value }) {
    const statusCode = await session().write({
      nodeId,
      attributeId: AttributeIds.Value,
      value: { value: { dataType: DataType[dataType], value } },
    });
    return { statusCode: statusCode.name };
  },

  /** Monitor a node's value; notifications queue until "changes" takes them. */
  async subscribe({ nodeId, handle, interval = 50 }) {
    if (!state.subscription) {
      state.subscription = await session().createSubscription2({
        requestedPublishingInterval: interval,
        requestedMaxKeepAliveCount: 20,
        requestedLifetimeCount: 600,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 1,
      });
    }
    const entry = { changes: [], waiters: [] };
    const item = await state.subscription.monitor(
      { nodeId, attributeId: AttributeIds.Value },
      { samplingInterval: interval, discardOldest: true, queueSize: 10 },
      TimestampsToReturn.Both,
    );
    item.on("changed", (dv) => {
      entry.changes.push(dataValue(dv));
      for (const wake of entry.waiters.splice(0)) wake();
    });
    entry.item = item;
    state.items.set(handle, entry);
    return { monitoredItemId: item.monitoredItemId, revisedSamplingInterval: item.result?.revisedSamplingInterval ?? null };
  },

  /** Wait until a notification carries `value` (or `timeout` ms pass); return them all. */
  async changes({ handle, value, timeout = 5000 }) {
    const entry = state.items.get(handle);
    const seen = () => entry.changes.some((c) => JSON.stringify(c.value) === JSON.stringify(value));
    const deadline = Date.now() + timeout;
    while (!seen() && Date.now() < deadline) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        entry.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return { found: seen(), changes: entry.changes };
  },

  /** HistoryRead raw, following continuation points; returns every page. */
  async history({ nodeId, start, end, count = 0, bounds = false, maxPages = 100 }) {
    const details = new ReadRawModifiedDetails({
      isReadModified: false,
      startTime: start ? new Date(start) : null,
      endTime: end ? new Date(end) : null,
      numValuesPerNode: count,
      returnBounds: bounds,
    });
    const pages = [];
    let continuationPoint = null;
    do {
      const response = await session().historyRead(
        new HistoryReadRequest({
          historyReadDetails: details,
          timestampsToReturn: TimestampsToReturn.Both,
          releaseContinuationPoints: false,
          nodesToRead: [{ nodeId, continuationPoint }],
        }),
      );
      const [result] = response.results;
      pages.push({
        statusCode: result.statusCode.name,
        values: (result.historyData?.dataValues ?? []).map(dataValue),
      });
      continuationPoint = result.continuationPoint?.length ? result.continuationPoint : null;
    } while (continuationPoint && pages.length < maxPages);
    return { pages };
  },

  /** A method call; the result's status code name (Good, BadUserAccessDenied...). */
  async call({ objectId, methodId, inputArguments = [] }) {
    const result = await session().call({
      objectId,
      methodId,
      inputArguments: inputArguments.map(({ dataType, value }) => ({
        dataType: DataType[dataType],
        value: dataType === "LocalizedText" ? { text: value } : value,
      })),
    });
    return result.statusCode.name;
  },

  /** HistoryRead processed (Part 13 aggregates), following continuation points. */
  async processed({ nodeId, start, end, aggregate, intervalMs, brief = false, maxPages = 100 }) {
    const details = new ReadProcessedDetails({
      startTime: new Date(start),
      endTime: new Date(end),
      processingInterval: intervalMs,
      aggregateType: [aggregate],
      aggregateConfiguration: { useServerCapabilitiesDefaults: true },
    });
    const pages = [];
    let continuationPoint = null;
    do {
      const response = await session().historyRead(
        new HistoryReadRequest({
          historyReadDetails: details,
          timestampsToReturn: TimestampsToReturn.Source,
          releaseContinuationPoints: false,
          nodesToRead: [{ nodeId, continuationPoint }],
        }),
      );
      const [result] = response.results;
      const dataValues = result.historyData?.dataValues ?? [];
      pages.push({
        statusCode: result.statusCode.name,
        count: dataValues.length, // `brief`: counts only, a page can be 5,000 values
        values: brief
          ? []
          : dataValues.map((dv) => ({ ...dataValue(dv), statusValue: dv.statusCode.value })),
      });
      continuationPoint = result.continuationPoint?.length ? result.continuationPoint : null;
    } while (continuationPoint && pages.length < maxPages);
    return { pages };
  },

  async disconnect() {
    const { client, session: current, subscription } = state;
    Object.assign(state, { client: null, session: null, subscription: null });
    state.items.clear();
    if (subscription) await subscription.terminate();
    if (current) await current.close();
    if (client) await client.disconnect();
    return {};
  },
};

function answer(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  // One request at a time, in order: answers never interleave.
  queue = queue.then(async () => {
    let request;
    try {
      request = JSON.parse(line);
      const op = ops[request.op];
      if (!op) throw new Error(`unknown op ${request.op}`);
      answer({ id: request.id, ok: true, result: await op(request) });
    } catch (error) {
      answer({ id: request?.id ?? null, ok: false, error: String(error?.message ?? error) });
    }
  });
});
lines.on("close", () => {
  queue
    .then(() => ops.disconnect())
    .catch(() => {})
    .finally(() => process.exit(0));
});
answer({ id: 0, ok: true, result: { ready: true, node: process.version } });
