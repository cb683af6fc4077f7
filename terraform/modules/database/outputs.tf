output "instance_id" {
  description = "ID of the managed PostgreSQL instance ({region}/{id}); backups and restores are made against it."
  value       = scaleway_rdb_instance.this.id
}

output "private_ip" {
  description = "Address of the instance on the Private Network."
  value       = scaleway_rdb_instance.this.private_network[0].ip
}

output "port" {
  description = "Port of the instance on the Private Network."
  value       = scaleway_rdb_instance.this.private_network[0].port
}

output "database_name" {
  description = "Database Participe uses."
  value       = scaleway_rdb_database.participe.name
}

output "app_user_name" {
  description = "Role Participe connects as."
  value       = scaleway_rdb_user.app.name
}

output "database_url" {
  description = "DATABASE_URL for Participe (put it in the Kubernetes Secret the chart's database.existingSecret names; never in values)."
  value       = "postgres://${scaleway_rdb_user.app.name}:${random_password.app.result}@${scaleway_rdb_instance.this.private_network[0].ip}:${scaleway_rdb_instance.this.private_network[0].port}/${scaleway_rdb_database.participe.name}?sslmode=require"
  sensitive   = true
}

output "admin_password" {
  description = "Password of the instance's admin user, for operators (break-glass)."
  value       = random_password.admin.result
  sensitive   = true
}

output "certificate" {
  description = "CA certificate of the instance, to verify TLS (sslmode=verify-full)."
  value       = scaleway_rdb_instance.this.certificate
}

output "read_replica_private_ip" {
  description = "Private address of the read replica, or null when none."
  value       = var.read_replica_enabled ? scaleway_rdb_read_replica.this[0].private_network[0].ip : null
}
