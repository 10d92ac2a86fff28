#!/bin/sh
# Installs the Temporal schema in PostgreSQL, or upgrades it to the version
# of the SQL tool: for each of the two databases, create it if missing,
# set up the versioning tables (setup-schema -v 0.0, a no-op once done),
# then apply every versioned step not applied yet (update-schema). Safe to
# run on every deployment. The schema job of docker-compose.yml and the
# cluster test (e2e/cluster) both run it.
#
#   SQL_HOST, SQL_PORT, SQL_USER       PostgreSQL and its user
#   SQL_PASSWORD or SQL_PASSWORD_FILE  its password
#   TEMPORAL_SQL_TOOL                  the server's SQL tool, built from
#                                      go.temporal.io/server/cmd/tools/sql at
#                                      the server's version (temporal-sql-tool)
#   TEMPORAL_SCHEMA_DIR                the server module's schema directory
#   TEMPORAL_DB, TEMPORAL_VISIBILITY_DB  (temporal, temporal_visibility)
set -eu
if [ -n "${SQL_PASSWORD_FILE:-}" ]; then
	SQL_PASSWORD=$(cat "$SQL_PASSWORD_FILE")
fi
: "${SQL_HOST:?set SQL_HOST}" "${SQL_USER:?set SQL_USER}" "${SQL_PASSWORD:?set SQL_PASSWORD or SQL_PASSWORD_FILE}"
: "${TEMPORAL_SCHEMA_DIR:?set TEMPORAL_SCHEMA_DIR to the server module's schema directory}"
SQL_PORT=${SQL_PORT:-5432}
SQL_PLUGIN=postgres12
export SQL_HOST SQL_PORT SQL_USER SQL_PASSWORD SQL_PLUGIN
tool=${TEMPORAL_SQL_TOOL:-temporal-sql-tool}

for pair in "${TEMPORAL_DB:-temporal}:temporal" "${TEMPORAL_VISIBILITY_DB:-temporal_visibility}:visibility"; do
	db=${pair%%:*}
	schema=${pair##*:}
	echo "== $db ($schema schema)"
	# create-database fails when the database exists: that is fine.
	"$tool" --db "$db" create-database || echo "database $db exists"
	"$tool" --db "$db" setup-schema -v 0.0
	"$tool" --db "$db" update-schema -d "$TEMPORAL_SCHEMA_DIR/postgresql/v12/$schema/versioned"
done
echo "schema ready"
