"""`alertstream bench`: the harness (:mod:`.harness`) and one module per measured part.

The parts drive the stages through their public entry points (a real ``alertstream worker``
process, :class:`alertstream.consumers.deliver.DeliveryService`), so the bench sits in the
composition root and no stage imports it.
"""
