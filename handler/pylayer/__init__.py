"""The core of the Custom::PythonLayer provider.

Data flows one way: ResourceProperties -> ``properties`` (a frozen LayerSpec)
-> ``target`` -> ``install`` -> ``archive`` -> ``store`` (S3 + Lambda) ->
``provider`` (what Create/Update/Delete do). Nothing here knows crhelper or
powertools; ``app.py`` wires those to ``provider``.
"""
