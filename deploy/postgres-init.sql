-- One database per part, each owned by its own role (docs/architecture.md: a service owns its data and
-- nobody else reads it). Run once by the postgres image on an empty volume
-- (/docker-entrypoint-initdb.d/). The passwords are for the local docker-compose.yml only:
-- create the roles with real secrets in any other environment.

CREATE ROLE identity LOGIN PASSWORD 'identity';
CREATE ROLE subscriptions LOGIN PASSWORD 'subscriptions';
CREATE ROLE notifications LOGIN PASSWORD 'notifications';
CREATE ROLE importer LOGIN PASSWORD 'importer';
CREATE ROLE gateway LOGIN PASSWORD 'gateway';

CREATE DATABASE identity OWNER identity;
CREATE DATABASE subscriptions OWNER subscriptions;
CREATE DATABASE notifications OWNER notifications;
CREATE DATABASE importer OWNER importer;
CREATE DATABASE gateway OWNER gateway;

-- Only the owning part (and the administrator) may connect to a part's database.
REVOKE CONNECT, TEMPORARY ON DATABASE identity FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE subscriptions FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE notifications FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE importer FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE gateway FROM PUBLIC;
