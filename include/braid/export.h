// What libbraid shows outside its shared library: the declarations marked
// BRAID_EXPORT (the rest of braid is compiled with hidden visibility).
#ifndef BRAID_EXPORT_H_
#define BRAID_EXPORT_H_

#define BRAID_EXPORT __attribute__((visibility("default")))

#endif  // BRAID_EXPORT_H_
