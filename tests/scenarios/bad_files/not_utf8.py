SCENARIOS = ()  # ÿþ
