#!/usr/bin/env sh
# Self-reenactment with the thead CLI: frame 0 of each real talking clip is driven by the clip itself,
# and the result is compared with the real clip frame by frame (the field's reconstruction protocol).
#
#   examples/self_reenactment.sh CLIPS_DIR OUT_DIR [MAX_FRAMES]
#
# Writes OUT_DIR/sources/<clip>.png (frame 0), OUT_DIR/generated/<clip>.mp4 (the reenactment) and
# OUT_DIR/self_reenactment.csv (one row per clip and the mean row); the table is also printed.
# ffmpeg: $FFMPEG, else the one bundled with thead (imageio-ffmpeg). benchmarks/self_reenactment.py does the same from a source checkout, leaves
# frame 0 out of the comparison and adds the still-frame-0 baseline and contact sheets.
set -eu

clips=${1:?usage: self_reenactment.sh CLIPS_DIR OUT_DIR [MAX_FRAMES]}
out=${2:?usage: self_reenactment.sh CLIPS_DIR OUT_DIR [MAX_FRAMES]}
frames=${3:-}
ffmpeg=${FFMPEG:-$(python -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')}
mkdir -p "$out/sources" "$out/generated"

for clip in "$clips"/*; do
    case "$clip" in
        *.mp4 | *.mpg | *.mpeg | *.mov | *.mkv | *.avi | *.webm | *.m4v) ;;
        *) continue ;;
    esac
    name=$(basename "$clip")
    stem=${name%.*}
    "$ffmpeg" -loglevel error -y -i "$clip" -frames:v 1 "$out/sources/$stem.png"
    thead drive-video "$out/sources/$stem.png" "$clip" -o "$out/generated/$stem.mp4" \
        --no-audio --force --quiet ${frames:+--max-frames "$frames"}
done

thead eval "$out/generated" --ref-dir "$clips" --metrics ssim,psnr,ssim-mouth,ssim-face,lmd,akd,sharpness \
    --csv "$out/self_reenactment.csv" --force ${frames:+--max-frames "$frames"}
