module atlas-ops/test/services/bench-server

go 1.26

require go.mongodb.org/mongo-driver v1.17.3
