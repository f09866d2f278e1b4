from shopper.cli.main import app

app(prog_name="shopper")
