"""The scoring core: pure functions over frozen state. No Kafka, no Faust, no wall clock."""
