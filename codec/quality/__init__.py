"""Distortion metrics on 8-bit RGB (PSNR, MS-SSIM, SSIM, SSIMULACRA2) and the differentiable MS-SSIM training and refinement use."""
