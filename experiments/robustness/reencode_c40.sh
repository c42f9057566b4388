#!/bin/bash
# CRF 40 copies of the FF++ sample (libx264, the dataset's c40 setting), same layout
FF=$(python -c "import imageio_ffmpeg;print(imageio_ffmpeg.get_ffmpeg_exe())")
# usage: reencode_c40.sh FFPP_ROOT OUT_ROOT   (OUT_ROOT gets the same layout, every video at CRF 40)
SRC=${1:?FFPP_ROOT}
DST=$(realpath -m "${2:?OUT_ROOT}")
cd $SRC
find . -name '*.mp4' | sort | while read f; do
  out="$DST/$f"; mkdir -p "$(dirname "$out")"
  [ -s "$out" ] && continue
  nice -n 5 $FF -nostdin -loglevel error -y -i "$f" -c:v libx264 -crf 40 -preset medium -an "$out.tmp.mp4" && mv "$out.tmp.mp4" "$out"
done
echo done
