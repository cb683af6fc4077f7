# Managed PostgreSQL on the Private Network only, with automated backups (stored in another
# region by default), encryption at rest, one database and a non-admin role for Participe.
# Passwords are generated here: they land in the Terraform state, which must therefore be
# remote, encrypted and access-controlled.

resource "random_password" "admin" {
  length      = 32
  special     = true
  min_lower   = 1
  min_upper   = 1
  min_numeric = 1
  min_special = 1
  # Characters that need no escaping in a URL or a shell.
  override_special = "-_.~"
}

resource "random_password" "app" {
  length           = 32
  special          = true
  min_lower        = 1
  min_upper        = 1
  min_numeric      = 1
  min_special      = 1
  override_special = "-_.~"
}

resource "scaleway_rdb_instance" "this" {
  name               = var.name
  region             = var.region
  node_type          = var.node_type
  engine             = var.engine
  is_ha_cluster      = var.is_ha_cluster
  volume_type        = var.volume_type
  volume_size_in_gb  = var.volume_type == "lssd" ? null : var.volume_size_in_gb
  encryption_at_rest = true
  user_name          = var.admin_user_name
  password           = random_password.admin.result
  tags               = var.tags

  disable_backup            = false
  backup_schedule_frequency = var.backup_schedule_frequency
  backup_schedule_retention = var.backup_schedule_retention
  backup_same_region        = var.backup_same_region

  # Private endpoint only: without a load_balancer block, no public endpoint exists.
  private_network {
    pn_id       = var.private_network_id
    enable_ipam = true
  }

  settings = {
    max_connections = tostring(var.max_connections)
  }
}

resource "scaleway_rdb_database" "participe" {
  instance_id = scaleway_rdb_instance.this.id
  name        = var.database_name
}

resource "scaleway_rdb_user" "app" {
  instance_id = scaleway_rdb_instance.this.id
  name        = var.app_user_name
  password    = random_password.app.result
  is_admin    = false
}

resource "scaleway_rdb_privilege" "app" {
  instance_id   = scaleway_rdb_instance.this.id
  user_name     = scaleway_rdb_user.app.name
  database_name = scaleway_rdb_database.participe.name
  permission    = "all"
}

resource "scaleway_rdb_read_replica" "this" {
  count = var.read_replica_enabled ? 1 : 0

  instance_id = scaleway_rdb_instance.this.id
  region      = var.region

  private_network {
    private_network_id = var.private_network_id
    enable_ipam        = true
  }
}
