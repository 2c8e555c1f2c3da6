"""The StorageClasses component on its own."""

from __future__ import annotations

from tests.program.components_alone import run_alone

CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"


def test_both_classes_keep_their_volumes_and_wait_for_what_the_component_waits_for(tmp_path):
    run = run_alone(tmp_path, """
        import pulumi
        import pulumi_kubernetes as kubernetes
        from components.storage import StorageClasses, StorageClassesArgs

        provider = kubernetes.Provider("test-kubernetes")
        before = kubernetes.core.v1.Namespace("before", opts=pulumi.ResourceOptions(provider=provider))
        StorageClasses("storage", StorageClassesArgs("example.org/csi", {"type": "ssd"}, wait_for_first_consumer=False),
                       pulumi.ResourceOptions(provider=provider, depends_on=[before]))
    """)
    (component,) = run.of_type("persistent-binderhub:storage:StorageClasses")
    before = run.named("kubernetes:core/v1:Namespace", "before")
    classes = {r.name: r for r in run.of_type(CLASS)}
    assert set(classes) == {"user-homes", "hub-db"}
    for storage_class in classes.values():
        assert storage_class.inputs["provisioner"] == "example.org/csi"
        assert storage_class.inputs["parameters"] == {"type": "ssd"}
        assert storage_class.inputs["reclaimPolicy"] == "Retain"
        assert storage_class.inputs["allowVolumeExpansion"] is True
        assert storage_class.inputs["volumeBindingMode"] == "Immediate"
        assert storage_class.parent == component.urn
        assert storage_class.options["dependsOn"] == [before.urn]  # what the component waits for
        assert storage_class.options["provider"].endswith("::test-kubernetes")  # inherited from it


def test_without_parameters_none_are_set_and_binding_waits_for_the_pod(tmp_path):
    run = run_alone(tmp_path, """
        import pulumi
        import pulumi_kubernetes as kubernetes
        from components.storage import StorageClasses, StorageClassesArgs

        provider = kubernetes.Provider("test-kubernetes")
        StorageClasses("storage", StorageClassesArgs("example.org/csi"), pulumi.ResourceOptions(provider=provider))
    """)
    for storage_class in run.of_type(CLASS):
        assert "parameters" not in storage_class.inputs
        assert storage_class.inputs["volumeBindingMode"] == "WaitForFirstConsumer"
        assert storage_class.options["dependsOn"] == []
