# Build (and push) the four service images:
#   docker buildx bake                                     # gempool/<service>:0.1.0, local images
#   REGISTRY=registry.example.com/ TAG=0.1.0 docker buildx bake --push
# The tags match deploy/k8s/base (gempool/<service>:0.1.0); with a REGISTRY, point kustomize's
# `images:` at it (deploy/k8s/overlays/production/kustomization.yaml shows how).

variable "REGISTRY" {
  # Empty, or a registry prefix ending in a slash, e.g. "ghcr.io/acme/".
  default = ""
}

variable "TAG" {
  default = "0.1.0"
}

group "default" {
  targets = ["gateway", "keypool", "config", "imagehost"]
}

# The builder's platform; for more: docker buildx bake --set '*.platform=linux/amd64,linux/arm64' --push
target "_common" {
  context = "."
  labels = {
    "org.opencontainers.image.title"   = "gempool"
    "org.opencontainers.image.version" = "${TAG}"
  }
}

target "gateway" {
  inherits   = ["_common"]
  dockerfile = "services/gateway/Dockerfile"
  tags       = ["${REGISTRY}gempool/gateway:${TAG}"]
}

target "keypool" {
  inherits   = ["_common"]
  dockerfile = "services/keypool/Dockerfile"
  tags       = ["${REGISTRY}gempool/keypool:${TAG}"]
}

target "config" {
  inherits   = ["_common"]
  dockerfile = "services/config/Dockerfile"
  tags       = ["${REGISTRY}gempool/config:${TAG}"]
}

target "imagehost" {
  inherits   = ["_common"]
  dockerfile = "services/imagehost/Dockerfile"
  tags       = ["${REGISTRY}gempool/imagehost:${TAG}"]
}
