"""Pure math of allocator: arrays in, arrays out, an explicit ``numpy.random.Generator``.

Nothing in this package reads files, the clock or the network, and it imports only
numpy, scipy and allocator's own ``_types`` and ``errors``.
"""
