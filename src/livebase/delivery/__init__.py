"""Delivery: the outbox worker, message templates, signed tracking links, consent and erasure.

The worker sees two narrow interfaces: the operational store and a
:class:`~livebase.channels.base.Channel`.
"""
