print("eam-run: not built yet")
