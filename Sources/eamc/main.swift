print("eamc: not built yet")
