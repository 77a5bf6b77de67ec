"""Pure math of allocator: arrays in, arrays out, an explicit ``numpy.random.Generator``.

Nothing in this package reads files, the clock or the network, and it imports only
numpy, scipy, ``annotated_types`` (field bounds, see :mod:`allocator.core.bounds`) and
allocator's own ``_types`` and ``errors``.
"""
