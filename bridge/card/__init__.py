"""Card layer: transports, the BELPIC protocol, and the application session.

Layered like yubikit: a transport moves bytes (``transport``, ``pcsc``, ``local``),
the protocol formats APDUs and turns status words into typed errors (``protocol``),
and ``BelpicSession`` offers what the card does, by name.
"""
