"""The API's database: connection, tables, migrations, and the queries over stored reviews and
model versions."""
