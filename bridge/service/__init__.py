"""The localhost API: guards, routes, the single card worker and the OpenAPI document.

Import :mod:`bridge.service.app` for the server; this package module stays import-light so
:mod:`bridge.messages` can reach :mod:`bridge.service.errors` without loading aiohttp.
"""
