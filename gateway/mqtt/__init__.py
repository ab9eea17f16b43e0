"""North-bound MQTT: a Sparkplug B edge node and a plain-JSON namespace (docs/mqtt.md).

client.py      the adapter: the only aiomqtt import; one client per connection
sparkplug/     the Sparkplug B payload schema, its generated classes, encode/decode
"""
