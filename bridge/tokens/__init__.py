"""The origin-bound authentication token (Web eID format ``web-eid:1.0``).

The bridge builds a token with :mod:`bridge.tokens.format` (:func:`~.format.digest_to_sign`,
:func:`~.format.build_token`); the relying party issues challenge nonces with a
:class:`~.nonces.NonceStore` and checks tokens with :class:`~.validator.TokenValidator`.
Errors are in :mod:`bridge.tokens.errors`; ``docs/token.md`` describes the format.

This ``__init__`` imports nothing on purpose: :mod:`bridge.messages` imports
:mod:`bridge.tokens.errors`, and :mod:`bridge.trust.validate` (which the validator needs)
imports :mod:`bridge.messages`, so an eager import here would be circular.
"""
