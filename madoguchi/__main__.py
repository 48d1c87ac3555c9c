from madoguchi.cli import app

app()
