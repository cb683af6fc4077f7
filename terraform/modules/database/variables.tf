variable "name" {
  description = "Name of the managed PostgreSQL instance."
  type        = string
}

variable "region" {
  description = "Scaleway region of the instance; same as the cluster's, so that the Private Network reaches it."
  type        = string
  default     = "fr-par"
}

variable "node_type" {
  description = "Instance type (e.g. DB-PRO2-XS, DB-GP-S). Thousands of tenant schemas fit one instance; size for connections and working set."
  type        = string
  default     = "DB-PRO2-XS"
}

variable "engine" {
  description = "Engine version. Participe needs PostgreSQL 15 or later."
  type        = string
  default     = "PostgreSQL-15"

  validation {
    condition     = can(regex("^PostgreSQL-(1[5-9]|[2-9][0-9])$", var.engine))
    error_message = "engine must be PostgreSQL-15 or later."
  }
}

variable "is_ha_cluster" {
  description = "Run a standby node with automatic failover (recommended in production; changing it recreates the instance)."
  type        = bool
  default     = true
}

variable "volume_type" {
  description = "Storage: sbs_5k or sbs_15k (Block Storage, resizable), or lssd (local SSD)."
  type        = string
  default     = "sbs_5k"
}

variable "volume_size_in_gb" {
  description = "Storage size in GB (Block Storage only)."
  type        = number
  default     = 50
}

variable "private_network_id" {
  description = "ID of the VPC Private Network the instance is attached to (IPAM-managed address). No public endpoint is created."
  type        = string
}

variable "backup_schedule_frequency" {
  description = "Hours between automated backups (logical, full)."
  type        = number
  default     = 24
}

variable "backup_schedule_retention" {
  description = "Days automated backups are kept."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_schedule_retention >= 7
    error_message = "Keep at least a week of backups."
  }
}

variable "backup_same_region" {
  description = "Store backups in the instance's region (false: another region, which survives a regional outage)."
  type        = bool
  default     = false
}

variable "database_name" {
  description = "Database Participe uses; tenant schemas t_<slug> and the platform schema live in it."
  type        = string
  default     = "participe"
}

variable "app_user_name" {
  description = "Role Participe connects as (owns its schemas; not an instance admin)."
  type        = string
  default     = "participe"
}

variable "admin_user_name" {
  description = "The instance's first (admin) user, for operators only."
  type        = string
  default     = "participe_admin"
}

variable "max_connections" {
  description = "PostgreSQL max_connections. Budget: (web + worker replicas) × PARTICIPE_POOL_SIZE + migration job + operators."
  type        = number
  default     = 400
}

variable "read_replica_enabled" {
  description = "Create a read replica on the Private Network (reporting, exports; Participe itself does not route reads to it yet)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = list(string)
  default     = []
}
