"""The BrandPulse web front end (Dash): `brandpulse.dash.app.create_app` builds it.

Inside this package `import dash` is the Dash library; the package itself is `brandpulse.dash`.
"""
