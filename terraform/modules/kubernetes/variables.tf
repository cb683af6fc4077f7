variable "name" {
  description = "Name of the Kapsule cluster; also the prefix of its pool and load-balancer IPs."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.name))
    error_message = "name must be lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Scaleway region of the cluster (fr-par, nl-ams, pl-waw)."
  type        = string
  default     = "fr-par"
}

variable "zone" {
  description = "Scaleway zone of the node pool and of the reserved load-balancer IPs (e.g. fr-par-2)."
  type        = string
  default     = "fr-par-2"
}

variable "kubernetes_version" {
  description = "Kubernetes minor version (x.y) when auto_upgrade is on, else a full patch version. The Participe chart needs 1.30 or later."
  type        = string
  default     = "1.32"
}

variable "private_network_id" {
  description = "ID of the VPC Private Network the nodes join; the managed PostgreSQL is attached to the same one, so database traffic never leaves it."
  type        = string
}

variable "cni" {
  description = "Container network interface. Cilium enforces the chart's NetworkPolicies."
  type        = string
  default     = "cilium"
}

variable "node_type" {
  description = "Commercial type of the pool's nodes (e.g. PRO2-S). Immutable: changing it recreates the pool."
  type        = string
  default     = "PRO2-S"
}

variable "pool_size" {
  description = "Initial number of nodes (only used at creation when autoscaling is on)."
  type        = number
  default     = 3
}

variable "pool_min_size" {
  description = "Fewest nodes the autoscaler keeps. Three spreads web replicas across failure domains."
  type        = number
  default     = 3
}

variable "pool_max_size" {
  description = "Most nodes the autoscaler may add."
  type        = number
  default     = 10
}

variable "root_volume_size_in_gb" {
  description = "System volume size of each node, in GB (20 minimum)."
  type        = number
  default     = 50
}

variable "public_ip_disabled" {
  description = "Remove public IPs from the nodes. Requires a Public Gateway on the Private Network (not created here) for outbound traffic."
  type        = bool
  default     = false
}

variable "maintenance_window_day" {
  description = "Day of the 2-hour patch auto-upgrade window (monday … sunday, or any)."
  type        = string
  default     = "sunday"
}

variable "maintenance_window_start_hour" {
  description = "Start hour (UTC) of the auto-upgrade window: when collectivités' portals are quietest."
  type        = number
  default     = 3
}

variable "edge_ip_enabled" {
  description = "Also reserve a load-balancer IP for the on-demand-TLS edge that serves custom domains (chart value edge.enabled)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of this module."
  type        = list(string)
  default     = []
}
