"""What the OPC UA server (gateway/opcua/) and client (gateway/uaclient/) share.

wire.py          typed constructors for asyncua's wire values, and its enums from their modules
certificates.py  self-signed OPC UA application certificates and their thumbprints

Only asyncua.ua and cryptography are imported here (tests/unit/test_opcua_boundary.py),
so the client loads no part of the server: `import gateway.uaclient` stays light.
"""
