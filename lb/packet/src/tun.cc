#include "tun.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "lbd/sys/socket.h"

namespace lbd {

Result<TunDevice> OpenTun(const std::string& name, int queues, bool offload) {
  if (name.empty() || name.size() >= IFNAMSIZ) return Status::Error("bad tun name: " + name);
  if (queues < 1) queues = 1;
  TunDevice dev;
  dev.name = name;
  for (int i = 0; i < queues; ++i) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      for (int f : dev.fds) close(f);
      return Status::Error(ErrnoMessage("open /dev/net/tun", err));
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | (offload ? IFF_VNET_HDR : 0);
    std::memcpy(ifr.ifr_name, name.data(), std::min<size_t>(name.size(), IFNAMSIZ - 1));
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
      int err = errno;
      close(fd);
      for (int f : dev.fds) close(f);
      return Status::Error(ErrnoMessage("TUNSETIFF " + name, err));
    }
    if (offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) != 0) {
      int err = errno;
      close(fd);
      for (int f : dev.fds) close(f);
      return Status::Error(ErrnoMessage("TUNSETOFFLOAD " + name, err));
    }
    dev.fds.push_back(fd);
  }
  dev.ifindex = static_cast<int>(if_nametoindex(name.c_str()));
  return dev;
}

Status SetLinkUp(const std::string& name) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(ErrnoMessage("socket", errno));
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), std::min<size_t>(name.size(), IFNAMSIZ - 1));
  Status st;
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
    st = Status::Error(ErrnoMessage("SIOCGIFFLAGS " + name, errno));
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) {
      st = Status::Error(ErrnoMessage("SIOCSIFFLAGS " + name, errno));
    }
  }
  close(fd);
  return st;
}

Status DisableIpv6(const std::string& dev) {
  const std::string path = "/proc/sys/net/ipv6/conf/" + dev + "/disable_ipv6";
  std::ofstream out(path);
  out << "1";
  out.flush();
  if (!out) return Status::Error("cannot write " + path);
  return Status::Ok();
}

Status SetDeviceSysctl(const std::string& dev, const std::string& key, const std::string& value) {
  const std::string path = "/proc/sys/net/ipv4/conf/" + dev + "/" + key;
  std::ofstream out(path);
  out << value;
  out.flush();
  if (!out) return Status::Error("cannot write " + path);
  return Status::Ok();
}

}  // namespace lbd
