"""The sheet's menu script, shipped inside the package as ``sheets_bridge.apps_script_files``.

This file only makes the folder importable under that name in an editable install (see
``[tool.setuptools.package-dir]`` in pyproject.toml); clasp pushes only the script files.
"""
