"""Sync between terminals and the central server: the wire protocol and its clients.

:mod:`sync.protocol` is the contract; the uploader and the admin client use it.
"""
