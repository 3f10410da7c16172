"""The stacks the project benches bring up, the same for stackup and its peers."""


def chain_stack(image: str, port: int, count: int = 10) -> dict:
    """svc0 <- svc1 <- ... <- svc9 (each depends on the previous one), one network, one
    shared named volume, one published port (on the last service)."""
    services = {}
    for i in range(count):
        service = {"image": image, "init": True, "command": ["sleep", "1000"],
                   "networks": ["net"], "volumes": ["shared:/shared"]}
        if i:
            service["depends_on"] = [f"svc{i - 1}"]
        if i == count - 1:
            service["ports"] = [f"127.0.0.1:{port}:80"]
        services[f"svc{i}"] = service
    return {"name": "benchchain", "services": services, "networks": {"net": {}}, "volumes": {"shared": {}}}


def single_stack(image: str) -> dict:
    return {"name": "benchone",
            "services": {"app": {"image": image, "init": True, "command": ["sleep", "1000"]}}}
