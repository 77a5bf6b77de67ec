"""Input files of the ``files`` platform: read, validate, and turn into core arrays.

Two CSV files describe an account (the contract in DESIGN.md), each with its module:

* :mod:`allocator.data.adgroups`: the ad groups file (:func:`~.adgroups.read_adgroups`,
  :func:`~.adgroups.write_adgroups`);
* :mod:`allocator.data.observations`: the daily observations file
  (:func:`~.observations.read_observations`, :func:`~.observations.write_observations`) and
  :func:`~.observations.load_files`, which reads both.

:mod:`allocator.data.table` reads a file as string cells and checks it row by row and column
by column: an invalid file raises one :class:`~allocator.errors.DataError` naming file, line
and column; suspicious but legal rows give a :class:`~.table.DataWarning`.
:mod:`allocator.data.arrays` turns the validated records into the core arrays of one
planning day (:func:`~.arrays.to_arrays`).
"""
