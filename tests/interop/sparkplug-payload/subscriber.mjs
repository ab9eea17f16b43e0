// An independent Sparkplug B subscriber: MQTT.js receives, Eclipse Tahu's sparkplug-payload
// decodes. Prints one JSON line per message: the topic, the payload as base64, what Tahu
// decoded (64-bit numbers as decimal strings), and Tahu's own encoding of what it decoded.
// Usage: node subscriber.mjs mqtt://127.0.0.1:1883 'spBv1.0/group/#'
import mqtt from "mqtt";
import sparkplug from "sparkplug-payload";

const [url, topic] = process.argv.slice(2);
const payloads = sparkplug.get("spBv1.0");

function plain(value) {
  if (value === null || value === undefined) return value;
  if (typeof value === "object" && typeof value.toNumber === "function" && "low" in value) {
    return value.toString(); // a Long
  }
  if (Buffer.isBuffer(value)) return value.toString("base64");
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const client = mqtt.connect(url, { clientId: `tahu-${process.pid}`, clean: true });
client.on("connect", () => {
  client.subscribe(topic, { qos: 1 }, (error) => {
    if (error) {
      console.error(error.message);
      process.exit(2);
    }
    console.log(JSON.stringify({ subscribed: topic }));
  });
});
client.on("message", (received, message) => {
  if (!received.startsWith("spBv1.0/") || received.startsWith("spBv1.0/STATE/")) return;
  let decoded;
  try {
    decoded = payloads.decodePayload(message);
  } catch (error) {
    console.log(JSON.stringify({ topic: received, error: String(error) }));
    return;
  }
  const reencoded = Buffer.from(payloads.encodePayload(decoded)).toString("base64");
  console.log(
    JSON.stringify({
      topic: received,
      payload: message.toString("base64"),
      decoded: plain(decoded),
      reencoded,
    }),
  );
});
client.on("error", (error) => {
  console.error(error.message);
  process.exit(2);
});
