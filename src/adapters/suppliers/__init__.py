"""Upstream suppliers: other systems the merchant buys from as one of their resellers."""
