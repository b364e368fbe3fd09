"""Sync between terminals and the central server: the wire protocol and its clients.

:mod:`sync.protocol` is the contract; :mod:`sync.http` is the one way every client (the uploader,
enrolment, ``kiosk-admin``) makes its session, builds addresses and puts a failed request in words.
"""
