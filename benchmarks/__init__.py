"""The reclab benchmark (``make bench``): the labs' models against tuned library peers.

``python -m benchmarks.run`` (or ``reclab bench``) executes the solution notebooks, fits the
peers of :mod:`benchmarks.peers` on the same protocols (:mod:`reclab.protocols`, u1) and
writes ``results.md``, ``results.json`` and ``results.png`` (:mod:`benchmarks.report`).
"""
