"""kaquan's pure core: models, rules and use cases. Talks to the outside only through `ports`."""
