"""The pages of the web app, one module each; `create_app` registers them."""
