output "cluster_id" {
  description = "ID of the Kapsule cluster ({region}/{id})."
  value       = scaleway_k8s_cluster.this.id
}

output "apiserver_url" {
  description = "URL of the Kubernetes API server."
  value       = scaleway_k8s_cluster.this.apiserver_url
}

output "kubeconfig" {
  description = "Raw kubeconfig of the cluster (an admin token: keep it out of logs)."
  value       = scaleway_k8s_cluster.this.kubeconfig[0].config_file
  sensitive   = true
}

output "ingress_ip" {
  description = "Reserved load-balancer IP for the ingress controller's Service (annotation service.beta.kubernetes.io/scw-loadbalancer-ip-ids or spec.loadBalancerIP); the DNS module points the platform's records at it."
  value       = scaleway_lb_ip.ingress.ip_address
}

output "ingress_ip_id" {
  description = "ID of the reserved ingress load-balancer IP."
  value       = scaleway_lb_ip.ingress.id
}

output "edge_ip" {
  description = "Reserved load-balancer IP for the custom-domain edge, or null. Collectivités point their custom domains at it."
  value       = var.edge_ip_enabled ? scaleway_lb_ip.edge[0].ip_address : null
}

output "edge_ip_id" {
  description = "ID of the reserved edge load-balancer IP, or null."
  value       = var.edge_ip_enabled ? scaleway_lb_ip.edge[0].id : null
}
