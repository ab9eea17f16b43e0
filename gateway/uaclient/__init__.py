"""A small OPC UA client for `gateway browse|read|write|watch` (asyncua is imported here only).

session.py     connect: endpoint choice, user and password, client certificate, clear errors
identity.py    the client's certificate: the user's own or one generated once per user
nodetext.py    NODE arguments (boiler.temperature, ns=2;s=..., nsu=URI;s=..., i=2253); pure
convert.py     command-line text → a value of the node's built-in type; pure
uanames.py     status code names (Bad_NoCommunication), type names, values and times as text
operations.py  read and write
browse.py      the address space as a tree, values read in bulk
watch.py       data changes and Server events from one subscription

Every function returns plain records of text; the CLI (gateway/cli/client.py)
prints them. Every failure is a ClientError with a message for the user.
"""

from gateway.uaclient.browse import BrowsedNode, browse, default_root, gateway_tags
from gateway.uaclient.identity import default_pki_dir
from gateway.uaclient.operations import Reading, Written, read, write
from gateway.uaclient.session import ClientOptions, Session, open_session
from gateway.uaclient.watch import Change, Event, watch

__all__ = [
    "BrowsedNode",
    "Change",
    "ClientOptions",
    "Event",
    "Reading",
    "Session",
    "Written",
    "browse",
    "default_pki_dir",
    "default_root",
    "gateway_tags",
    "open_session",
    "read",
    "watch",
    "write",
]
