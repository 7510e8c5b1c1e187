/*
 * A framework program as a user outside the xhal tree writes it: creates
 * an instance with the default discovery (no environment needed once
 * xhal is installed), counts the plugins and devices, and fails if there
 * is no device at all (the CPU plugin always provides one).
 */
#include <stdio.h>
#include <xhal/xhal.h>

int main(void) {
  xhal_instance_t instance = NULL;
  uint32_t plugins = 0;
  uint32_t devices = 0;
  xhal_status_t status = xhal_instance_create(NULL, &instance);
  if (status != XHAL_OK) {
    fprintf(stderr, "xhal_instance_create: %s: %s\n", xhal_status_name(status),
            xhal_last_error());
    return 1;
  }
  if (xhal_instance_plugin_count(instance, &plugins) != XHAL_OK ||
      xhal_instance_device_count(instance, &devices) != XHAL_OK) {
    fprintf(stderr, "counting failed: %s\n", xhal_last_error());
    xhal_instance_release(instance);
    return 1;
  }
  printf("%u plugin(s), %u device(s)\n", plugins, devices);
  for (uint32_t i = 0; i < devices; ++i) {
    xhal_device_t device;
    xhal_device_properties_t props;
    props.struct_size = (uint32_t)sizeof(props);
    if (xhal_instance_device(instance, i, &device) == XHAL_OK &&
        xhal_device_properties(device, &props) == XHAL_OK) {
      printf("  [%u] %s (plugin %s)\n", i, props.name,
             xhal_device_plugin_name(device));
    }
  }
  xhal_instance_release(instance);
  return devices > 0 ? 0 : 1;
}
