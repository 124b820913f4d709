"""Connections: validated settings of a connection, routes over several connections, the connection form."""
