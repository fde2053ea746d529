"""Core: pure rules over tables and values (settings, schema, labels, consensus, rows, errors).

Nothing here touches a sheet backend, the workspace on disk, the loop or the model.
"""
