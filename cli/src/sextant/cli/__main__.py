from sextant.cli.main import app

app()
