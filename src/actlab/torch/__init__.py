"""The PyTorch layer: every catalogue entry as a function and a module, with autograd.

One way through it: :mod:`~actlab.torch.functional` (``actlab.functional``) and
:mod:`~actlab.torch.nn` (``actlab.nn``) are what users call; :mod:`.dispatch` plans
each call once (which implementation runs for this activation, dtype and direction)
and runs the plan; :mod:`.autograd` holds the reference path's autograd functions;
:mod:`.kernels` builds and loads the compiled CPU kernels. Nothing here imports the
analysis, the monitor or the lab.
"""
